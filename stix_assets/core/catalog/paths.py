"""How the catalog stores file paths: products relative to the archive root, TM files absolute.

A product path is stored relative to the archive root (POSIX separators), so the same archive
processed from any working directory, or moved as a whole, gives the same rows. A path given
relative is taken relative to the current working directory first. A product outside the root
(should not happen) is stored absolute and resolved. TM/TC files live outside the archive
(incoming folders) and are stored absolute and resolved.

Before schema version 2 (`stix_assets.core.catalog.migrate`) product paths were stored as typed:
absolute, or relative to the writer's working directory. `ArchivePaths.legacy_key` maps such a
path to its current form.
"""

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ArchivePaths", "tm_path"]


def tm_path(path: Path | str) -> str:
    """Return the stored form of a TM/TC file path: absolute and resolved."""
    return str(Path(path).resolve())


def _under(path: Path, root: Path) -> str | None:
    """``path`` relative to ``root`` (POSIX), or None if it is not below it."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        return None
    return rel.as_posix() if rel.parts else None


@dataclass(frozen=True, slots=True)
class ArchivePaths:
    """Stored form of product paths under one archive root.

    Attributes
    ----------
    root : the archive root, absolute (symbolic links kept)
    """

    root: Path

    @classmethod
    def at(cls, root: Path | str) -> "ArchivePaths":
        """Return the paths of the archive at ``root`` (made absolute against the working dir)."""
        return cls(Path(os.path.abspath(root)))

    def key(self, path: Path | str) -> str:
        """Return the stored form of a product path.

        Examples
        --------
        >>> paths = ArchivePaths.at("/data/archive")
        >>> paths.key("/data/archive/L1/2024/05/01/QL/f.fits")
        'L1/2024/05/01/QL/f.fits'
        >>> paths.key("/data/archive/../other/f.fits")
        '/data/other/f.fits'
        """
        here = Path(os.path.abspath(path))
        rel = _under(here, self.root)
        if rel is not None:
            return rel
        real = here.resolve()  # the root or the file reached through a symbolic link
        rel = _under(real, self.root.resolve())
        return rel if rel is not None else str(real)

    def absolute(self, stored: str) -> Path:
        """Return the absolute path of a stored product path.

        >>> ArchivePaths.at("/data/archive").absolute("L1/f.fits")
        PosixPath('/data/archive/L1/f.fits')
        """
        path = Path(stored)
        return path if path.is_absolute() else self.root / path

    def legacy_key(self, stored: str) -> str:
        """Return the stored form of a path stored before schema version 2.

        An absolute path takes its `key`. A relative one was relative to the working directory
        of the process that wrote it, which may not be the current one. It becomes, in this
        order: the file it names from here, if that is in the archive; the longest tail of it
        that names a file in the archive; its `key` from here if that is below the root (file
        missing); else it is left as it is.
        """
        path = Path(stored)
        if path.is_absolute():
            return self.key(path)
        here = Path(os.path.abspath(path))
        below = _under(here, self.root) is not None
        if below and here.exists():
            return self.key(here)
        for start in range(len(path.parts)):
            tail = Path(*path.parts[start:])
            if ".." not in tail.parts and (self.root / tail).is_file():
                return tail.as_posix()
        return self.key(here) if below else stored
