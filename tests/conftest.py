import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    # panoramisk, psycopg's pool and the ARI WebSocket (websockets) run on asyncio.
    return "asyncio"
