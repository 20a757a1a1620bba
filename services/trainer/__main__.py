from services.kit.server import run_service
from services.trainer.app import setup

if __name__ == "__main__":
    run_service("trainer", setup)
