"""What a phone heard: a packet capture (tshark on loopback) of the RTP sent to its media port,
decoded from mu-law, for checking the order of what was played to it."""

from __future__ import annotations

import subprocess
import time
from array import array
from pathlib import Path
from types import TracebackType

from asterisk_rec.testing.tones import Audio


def _ulaw_table() -> list[int]:
    table = []
    for byte in range(256):
        u = ~byte & 0xFF
        magnitude = (((u & 0x0F) << 3) + 0x84) << ((u >> 4) & 0x07)
        table.append(0x84 - magnitude if u & 0x80 else magnitude - 0x84)
    return table


ULAW = _ulaw_table()


def decode_ulaw(payload: bytes) -> array[int]:
    return array("h", (ULAW[b] for b in payload))


class RtpCapture:
    """Captures UDP to ``port`` on loopback while in the ``with`` block."""

    def __init__(self, port: int, path: Path) -> None:
        self.port = port
        self.path = path
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RtpCapture:
        self._process = subprocess.Popen(
            ["tshark", "-q", "-i", "lo", "-f", f"udp dst port {self.port}", "-w", str(self.path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # tshark says "Capturing on" once the capture runs; nothing may be sent before that.
        assert self._process.stderr is not None
        deadline = time.monotonic() + 15
        seen = b""
        while b"Capturing on" not in seen and time.monotonic() < deadline:
            seen += self._process.stderr.read1(4096) if hasattr(self._process.stderr, "read1") else b""
        if b"Capturing on" not in seen:
            raise RuntimeError(f"tshark did not start: {seen.decode(errors='replace')}")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._process is not None:
            time.sleep(0.3)  # the last packets
            self._process.terminate()
            self._process.wait(10)

    def audio(self) -> Audio:
        """The mu-law RTP received, in arrival order, as 8 kHz samples."""
        fields = subprocess.run(
            ["tshark", "-r", str(self.path), "-d", f"udp.port=={self.port},rtp", "-Y", "rtp.p_type == 0",
             "-T", "fields", "-e", "rtp.payload"], capture_output=True, text=True, check=True).stdout
        samples = array("h")
        for line in fields.split():
            samples.extend(decode_ulaw(bytes.fromhex(line.replace(":", ""))))
        return Audio(samples, 8000)
