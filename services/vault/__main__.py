"""`python -m services.vault --config realm.yaml`"""

from services.kit.server import run_service
from services.vault.app import setup

if __name__ == "__main__":
    run_service("vault", setup)
