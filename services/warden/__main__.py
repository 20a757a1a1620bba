from services.kit.server import run_service
from services.warden.app import setup

if __name__ == "__main__":
    run_service("warden", setup)
