"""Reading the IR's XML safely: a bounded size, no DTD, no entities, every fault one FormatError line.

``defusedxml`` refuses what makes XML dangerous to parse: entity expansion (the "billion laughs"),
external entities and DTDs that fetch anything. OpenVINO never writes a DTD, so any DTD is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netray import FormatError
from netray_openvino.formats import FORMAT

# Large language models' IRs reach tens of megabytes of XML; past this the file is not a sane IR.
MAX_XML_BYTES = 512 * 1024 * 1024


def read_xml(path: Path, max_bytes: int = MAX_XML_BYTES) -> Any:
    """The root element of the XML file at ``path``; raises FormatError for any fault."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if size > max_bytes:
                raise FormatError(
                    path, FORMAT, f"the XML is {size:,} bytes, more than the {max_bytes:,} an IR topology may take"
                )
            f.seek(0)
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise FormatError(path, FORMAT, f"cannot read the file: {exc.strerror or exc}") from exc
    if not data.strip():
        raise FormatError(path, FORMAT, "the file is empty")
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise FormatError(
            path, FORMAT, f"refused unsafe XML ({type(exc).__name__}: DTDs and entities are not allowed in an IR)"
        ) from None
    except ParseError as exc:
        raise FormatError(path, FORMAT, f"not well-formed XML: {exc}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise FormatError(path, FORMAT, f"cannot parse the XML: {type(exc).__name__}: {exc}") from None
