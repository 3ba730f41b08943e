import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    # panoramisk and psycopg's pool run on asyncio; asyncari (anyio) runs on it too.
    return "asyncio"
