"""Telemetry input: SOC/EDDS XML files, CCSDS/PUS packet headers, packet batches and sequences."""

from stix_assets.core.tmtc.batch import DecodeReport, PacketBatch, QuarantinedPacket
from stix_assets.core.tmtc.headers import HEADER_DTYPE, decode_headers, encode_header
from stix_assets.core.tmtc.pi1 import assign_pi1
from stix_assets.core.tmtc.sequences import SequenceSplit, split_sequences
from stix_assets.core.tmtc.soc import (
    TMFile,
    decode_hex_file,
    decode_tm_file,
    is_tm_file_name,
    read_tm_file,
)

__all__ = [
    "HEADER_DTYPE",
    "DecodeReport",
    "PacketBatch",
    "QuarantinedPacket",
    "SequenceSplit",
    "TMFile",
    "assign_pi1",
    "decode_headers",
    "decode_hex_file",
    "decode_tm_file",
    "encode_header",
    "is_tm_file_name",
    "read_tm_file",
    "split_sequences",
]
