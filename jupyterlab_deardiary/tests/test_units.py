"""Pure helpers of the git endpoint."""

from __future__ import annotations

import pytest

from jupyterlab_deardiary.git import neutralising_overrides, parse_config, strip_credentials


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pa%40ss@host/x.git", "https://host/x.git"),
        ("https://u:p@ss@host/x.git", "https://host/x.git"),  # unescaped @ in a password
        ("http://token@host:8080/x.git#frag", "http://host:8080/x.git"),
        ("HTTPS://u:p@HOST/x", "HTTPS://HOST/x"),
        ("ssh://git@host:22/x.git", "ssh://git@host:22/x.git"),
        ("ssh://:secret@host/x.git", "ssh://host/x.git"),
        ("git+ssh://me:pw@host/x", "git+ssh://me@host/x"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
        ("me:pw@host:org/repo.git", "me@host:org/repo.git"),
        ("file:///srv/repos/x.git", "file:///srv/repos/x.git"),
        ("/srv/repos/x.git", "/srv/repos/x.git"),
        ("../sibling", "../sibling"),
    ],
)
def test_strip_credentials(url, expected):
    assert strip_credentials(url) == expected


def test_parse_config():
    raw = (
        b"local\0filter.Evil.Name.clean\n/x/y\0"
        b"global\0filter.lfs.required\0"
        b"local\0remote.o.url\nu\nv\0"
    )
    assert parse_config(raw, scoped=True) == [
        ("local", "filter.Evil.Name.clean", "/x/y"),
        ("global", "filter.lfs.required", None),
        ("local", "remote.o.url", "u\nv"),
    ]


def test_neutralising_overrides():
    lfs = [
        ("global", "filter.lfs.process", "git-lfs filter-process"),
        ("global", "filter.lfs.required", None),
    ]
    # trusted and defined by the administrator or user only: left alone
    assert neutralising_overrides(lfs, ["lfs"]) == []
    # ...also when the repository repeats the same definition (git lfs install --local)
    assert neutralising_overrides([*lfs, ("local", "filter.lfs.required", None)], ["lfs"]) == []
    # redefined by the repository, or not trusted: emptied
    emptied = [
        ("filter.lfs.clean", ""),
        ("filter.lfs.smudge", ""),
        ("filter.lfs.process", ""),
        ("filter.lfs.required", "false"),
    ]
    assert neutralising_overrides([*lfs, ("local", "filter.lfs.clean", "/x")], ["lfs"]) == emptied
    assert neutralising_overrides([("local", "filter.lfs.clean", "/x")], ["lfs"]) == emptied
    assert neutralising_overrides(lfs, []) == emptied
    # any name (even one -c could not express), and per-protocol allow rules
    assert neutralising_overrides(
        [("local", "filter.a=b.c.smudge", "/x"), ("local", "protocol.ext.allow", "always")], []
    ) == [
        ("protocol.ext.allow", "never"),
        ("filter.a=b.c.clean", ""),
        ("filter.a=b.c.smudge", ""),
        ("filter.a=b.c.process", ""),
        ("filter.a=b.c.required", "false"),
    ]
