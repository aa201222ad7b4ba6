import pytest

pytest_plugins = ("pytest_jupyter.jupyter_server",)


@pytest.fixture
def deardiary_config():
    """DearDiary settings for one test; override with @pytest.mark.parametrize."""
    return {}


@pytest.fixture
def jp_server_config(jp_server_config, deardiary_config):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyterlab_deardiary": True}},
        "DearDiary": deardiary_config,
    }
