import pickle

import pytest

from stix_assets.core import errors


@pytest.mark.parametrize(
    "err",
    [
        errors.TMFileError("empty file", file="a.xml"),
        errors.PacketDecodeError("truncated packet", file="a.xml", packet_index=3, spid=54118),
        errors.DiskFullError(path="/a/x.fits", free_bytes=0),
        errors.CatalogUnavailableError("connection refused", path="postgresql://u:***@h/db"),
        errors.CatalogArchiveMismatchError("another archive", path="postgresql://h/db"),
    ],
)
def test_errors_survive_pickling_with_their_fields(err):
    # a level-day built in a worker process sends its error back to the parent this way
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err)
    assert str(back) == str(err)
    assert back.__dict__ == err.__dict__
