"""Curriculum service: skills with levels, frozen eval sets, strict graders, dataset validation, progression."""
