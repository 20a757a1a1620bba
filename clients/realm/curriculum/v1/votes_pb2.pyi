import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VoteChoice(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VOTE_CHOICE_UNSPECIFIED: _ClassVar[VoteChoice]
    VOTE_CHOICE_A: _ClassVar[VoteChoice]
    VOTE_CHOICE_B: _ClassVar[VoteChoice]
    VOTE_CHOICE_TIE: _ClassVar[VoteChoice]
VOTE_CHOICE_UNSPECIFIED: VoteChoice
VOTE_CHOICE_A: VoteChoice
VOTE_CHOICE_B: VoteChoice
VOTE_CHOICE_TIE: VoteChoice

class VoteSide(_message.Message):
    __slots__ = ("model", "asset")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    model: str
    asset: str
    def __init__(self, model: _Optional[str] = ..., asset: _Optional[str] = ...) -> None: ...

class Vote(_message.Message):
    __slots__ = ("name", "campaign", "a", "b", "choice", "prompt", "seed", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    CHOICE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    campaign: str
    a: VoteSide
    b: VoteSide
    choice: VoteChoice
    prompt: str
    seed: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., campaign: _Optional[str] = ..., a: _Optional[_Union[VoteSide, _Mapping]] = ..., b: _Optional[_Union[VoteSide, _Mapping]] = ..., choice: _Optional[_Union[VoteChoice, str]] = ..., prompt: _Optional[str] = ..., seed: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordVoteRequest(_message.Message):
    __slots__ = ("vote", "vote_id")
    VOTE_FIELD_NUMBER: _ClassVar[int]
    VOTE_ID_FIELD_NUMBER: _ClassVar[int]
    vote: Vote
    vote_id: str
    def __init__(self, vote: _Optional[_Union[Vote, _Mapping]] = ..., vote_id: _Optional[str] = ...) -> None: ...

class RecordVoteResponse(_message.Message):
    __slots__ = ("vote", "pair")
    VOTE_FIELD_NUMBER: _ClassVar[int]
    PAIR_FIELD_NUMBER: _ClassVar[int]
    vote: Vote
    pair: PairTally
    def __init__(self, vote: _Optional[_Union[Vote, _Mapping]] = ..., pair: _Optional[_Union[PairTally, _Mapping]] = ...) -> None: ...

class GetVoteTallyRequest(_message.Message):
    __slots__ = ("campaign",)
    CAMPAIGN_FIELD_NUMBER: _ClassVar[int]
    campaign: str
    def __init__(self, campaign: _Optional[str] = ...) -> None: ...

class CheckpointTally(_message.Message):
    __slots__ = ("checkpoint", "wins", "losses", "ties", "votes")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    WINS_FIELD_NUMBER: _ClassVar[int]
    LOSSES_FIELD_NUMBER: _ClassVar[int]
    TIES_FIELD_NUMBER: _ClassVar[int]
    VOTES_FIELD_NUMBER: _ClassVar[int]
    checkpoint: str
    wins: int
    losses: int
    ties: int
    votes: int
    def __init__(self, checkpoint: _Optional[str] = ..., wins: _Optional[int] = ..., losses: _Optional[int] = ..., ties: _Optional[int] = ..., votes: _Optional[int] = ...) -> None: ...

class PairTally(_message.Message):
    __slots__ = ("first", "second", "first_wins", "second_wins", "ties")
    FIRST_FIELD_NUMBER: _ClassVar[int]
    SECOND_FIELD_NUMBER: _ClassVar[int]
    FIRST_WINS_FIELD_NUMBER: _ClassVar[int]
    SECOND_WINS_FIELD_NUMBER: _ClassVar[int]
    TIES_FIELD_NUMBER: _ClassVar[int]
    first: str
    second: str
    first_wins: int
    second_wins: int
    ties: int
    def __init__(self, first: _Optional[str] = ..., second: _Optional[str] = ..., first_wins: _Optional[int] = ..., second_wins: _Optional[int] = ..., ties: _Optional[int] = ...) -> None: ...

class GetVoteTallyResponse(_message.Message):
    __slots__ = ("checkpoints", "pairs", "total_votes")
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_VOTES_FIELD_NUMBER: _ClassVar[int]
    checkpoints: _containers.RepeatedCompositeFieldContainer[CheckpointTally]
    pairs: _containers.RepeatedCompositeFieldContainer[PairTally]
    total_votes: int
    def __init__(self, checkpoints: _Optional[_Iterable[_Union[CheckpointTally, _Mapping]]] = ..., pairs: _Optional[_Iterable[_Union[PairTally, _Mapping]]] = ..., total_votes: _Optional[int] = ...) -> None: ...
