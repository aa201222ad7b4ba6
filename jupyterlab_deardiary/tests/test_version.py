import json

from jupyterlab_deardiary import __version__


async def test_version(jp_fetch):
    response = await jp_fetch("deardiary", "version")
    assert response.code == 200
    assert json.loads(response.body) == {
        "version": __version__,
        "name": "jupyterlab_deardiary",
        "api": 1,
        "store_path": ".deardiary/deardiary.sqlite",
    }
