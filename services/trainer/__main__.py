from services.trainer.app import setup
from services.kit.server import run_service

if __name__ == "__main__":
    run_service("trainer", setup)
