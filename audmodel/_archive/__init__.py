"""Model archives: a folder packed into a plain ZIP file, and back.

The archive holds one entry per file, named by its POSIX path relative to
the model folder, without entries for folders, each entry deflated (levels
1-9) or stored (level 0). Python's zipfile, ``unzip`` and audmodel 1.5 read
it.

The rooms of this package:

* :mod:`._zip`: the ZIP format, its records and their signatures;
* :mod:`._pack`: which files of a folder go in, and how each is compressed;
* :mod:`._writer`: writing the archive front to back, with its MD5;
* :mod:`._checks`: the rules that refuse hostile archives;
* :mod:`._directory`: an archive's files, from its central directory alone;
* :mod:`._unpack`: unpacking, local or by byte ranges, in parallel;
* :mod:`._bytes`: copying and checksumming byte ranges of files.

Speed comes from doing each byte's work once and on every core: stored
data is copied by the kernel while another thread computes its CRC-32,
large files are deflated in parallel chunks joined into one stream (as
pigz does), the MD5 is computed while the archive is written, and where
the archive is to be kept its writing out to the disk starts while it is
written, so that the ``fsync`` of a durable publication finds little left
to do.

The rest of the library uses the names below, and only these.
"""

from audmodel._archive._bytes import CHUNK
from audmodel._archive._bytes import LARGE
from audmodel._archive._bytes import crc_of_range
from audmodel._archive._checks import check_entries
from audmodel._archive._checks import check_layout
from audmodel._archive._directory import read_directory
from audmodel._archive._directory import read_entries
from audmodel._archive._directory import verify
from audmodel._archive._pack import AUTO
from audmodel._archive._pack import check_compression
from audmodel._archive._pack import create
from audmodel._archive._pack import list_files
from audmodel._archive._unpack import RemoteArchive
from audmodel._archive._unpack import Resume
from audmodel._archive._unpack import extract
from audmodel._archive._unpack import read_member
from audmodel._archive._zip import ALIGNMENT
from audmodel._archive._zip import TAIL
from audmodel._archive._zip import ArchiveError


__all__ = [
    "ALIGNMENT",
    "AUTO",
    "CHUNK",
    "LARGE",
    "TAIL",
    "ArchiveError",
    "RemoteArchive",
    "Resume",
    "check_compression",
    "check_entries",
    "check_layout",
    "crc_of_range",
    "create",
    "extract",
    "list_files",
    "read_directory",
    "read_entries",
    "read_member",
    "verify",
]
