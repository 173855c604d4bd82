"""SOAR delivery over ssh (rsync -e ssh) to an sshd started by the test on localhost."""

import pytest

from stix_assets.core.errors import PublishError
from stix_assets.core.publish import SshTarget


def test_ssh_target_delivers_atomically_and_never_overwrites(tmp_path, ssh_localhost):
    host, options = ssh_localhost
    remote = tmp_path / "esa"
    remote.mkdir()
    target = SshTarget(host, str(remote), tuple(options.split()))
    target.check_writable()
    product = tmp_path / "solo_L1_stix-ql-lightcurve_20240515_V02.fits"
    product.write_bytes(b"SIMPLE  =                    T" + b" " * 2850)
    target.put(product, product.name)
    delivered = remote / product.name
    assert delivered.read_bytes() == product.read_bytes()
    assert not list(remote.glob(".*part*"))  # the partial name is gone after the rename
    assert target.sha256(product.name) is not None
    # a second delivery under the same name is refused, never overwritten
    product.write_bytes(b"other content")
    with pytest.raises(PublishError):
        target.put(product, product.name)
    assert delivered.read_bytes().startswith(b"SIMPLE")
    # a delivered copy that failed verification is removed (checked by sha256 only: not local)
    assert target.local_file(product.name) is None
    target.remove(product.name)
    assert not delivered.exists()
    assert target.sha256(product.name) is None


def test_unwritable_remote_folder_fails_clearly(tmp_path, ssh_localhost):
    host, options = ssh_localhost
    target = SshTarget(host, str(tmp_path / "missing"), tuple(options.split()))
    with pytest.raises(PublishError, match="failed"):
        target.check_writable()
