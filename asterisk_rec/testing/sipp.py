"""Real SIP phones for tests and benchmarks: SIPp 3.6 instances on loopback, one per lab endpoint,
each sending its own tone as RTP (mu-law)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = Path(__file__).parent / "sipp"
ASTERISK_SIP = "127.0.0.1:5060"


@dataclass(frozen=True)
class Phone:
    """A lab endpoint (vagrant/pjsip-lab.conf) and where its SIPp listens. Media ports lie below
    Asterisk's RTP range (10000-20000)."""

    endpoint: str
    sip_port: int
    media_port: int
    # A carrier calling in identifies itself with this X-Lab-Trunk header; "no" for everything else.
    trunk_header: str = "no"


ALICE_DESK = Phone("alice-desk", 5071, 6010)
ALICE_APP = Phone("alice-app", 5072, 6020)
BOB_DESK = Phone("bob-desk", 5073, 6030)
CAROL_DESK = Phone("carol-desk", 5074, 6040)
DAVE_DESK = Phone("dave-desk", 5075, 6050)
TRUNK = Phone("lab-trunk", 5080, 6060)  # the carrier answering: mobiles and outside numbers
TRUNK_CALLER = Phone("lab-trunk", 5081, 6070, "yes")  # the carrier calling in: outside callers, users' mobiles
TRUNK_B = Phone("lab-trunk-b", 5082, 6080)  # a second carrier answering, its caller ids untrusted
TRUNK_B_CALLER = Phone("lab-trunk-b", 5083, 6090, "b")  # the second carrier calling in
OUTSIDE_NUMBER = "+31201110000"  # nobody's in the lab's directory: an outside party


def ulaw_tone(path: Path, frequency: int, seconds: float = 10.0) -> Path:
    """Raw 8 kHz mu-law, no header: SIPp's rtp_stream sends the file byte for byte."""
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", "-t", "ul", str(path),
                    "synth", str(seconds), "sine", str(frequency), "vol", "0.5"], check=True)
    return path


class Sipp:
    """One SIPp run; its logs stay in ``workdir`` for a failing test to show."""

    def __init__(self, scenario: str, phone: Phone, workdir: Path, keys: dict[str, str], pause_ms: int,
                 remote: str | None = None, service: str | None = None, timeout_s: int = 60, calls: int = 1,
                 per_second: int | None = None, extra: tuple[str, ...] = ()) -> None:
        # The scenario's one <pause/> lasts -d ms (SIPp takes no keyword there). Several calls: all at once
        # (at most -l), started ``per_second``.
        command = ["sipp", "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1", "-p", str(phone.sip_port),
                   "-mp", str(phone.media_port), "-m", str(calls), "-d", str(pause_ms), "-nostdin",
                   "-timeout", f"{timeout_s}s", "-timeout_error", "-trace_err", "-trace_msg", "-trace_logs"]
        if per_second is not None:
            command += ["-l", str(calls), "-r", str(per_second)]
        command += extra
        for key, value in keys.items():
            command += ["-key", key, value]
        if service is not None:
            command += ["-s", service]
        if remote is not None:
            command.append(remote)
        self.phone = phone
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(command, cwd=workdir, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def wait(self, timeout: float = 90) -> int:
        try:
            self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
        return self.process.returncode

    def log(self) -> str:
        parts = []
        for path in sorted(self.workdir.glob("*.log")):
            parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    def final_code(self) -> int | None:
        """The final SIP code a refused-caller run logged."""
        for path in self.workdir.glob("*_logs.log"):
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("final "):
                    return int(line.split()[1])
        return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def answer(phone: Phone, tone: Path, workdir: Path, ring_ms: int = 500, calls: int = 1, timeout_s: int = 60) -> Sipp:
    """The phone rings for ``ring_ms``, answers and sends its tone until hung up (``calls`` times, at once)."""
    return Sipp("answerer.xml", phone, workdir, {"stream": f"{tone},-1,0"}, pause_ms=ring_ms, calls=calls,
                timeout_s=timeout_s)


def ring_only(phone: Phone, workdir: Path) -> Sipp:
    """The phone rings and never answers, until the call is cancelled."""
    return Sipp("ringer.xml", phone, workdir, {}, pause_ms=0)


def busy(phone: Phone, workdir: Path) -> Sipp:
    """The phone answers 486 Busy Here."""
    return Sipp("busy.xml", phone, workdir, {}, pause_ms=0)


def call_unanswered(phone: Phone, number: str, workdir: Path, caller_id: str | None = None) -> Sipp:
    """The phone dials ``number`` expecting no answer; ``final_code()`` then tells what it got."""
    return Sipp("refused-caller.xml", phone, workdir,
                {"caller": caller_id or phone.endpoint, "test_id": "-",
                 "trunk": phone.trunk_header},
                pause_ms=0, remote=ASTERISK_SIP, service=number)


def call_and_give_up(phone: Phone, number: str, workdir: Path) -> Sipp:
    """The phone dials a recorded user and hangs up (CANCEL) while it rings, after 3 s without news."""
    return Sipp("caller-cancel.xml", phone, workdir,
                {"caller": phone.endpoint, "test_id": "-", "trunk": phone.trunk_header},
                pause_ms=0, remote=ASTERISK_SIP, service=number)


def call(phone: Phone, number: str, tone: Path, workdir: Path, call_ms: int, test_id: str = "",
         caller_id: str | None = None, hold: bool = False, calls: int = 1, per_second: int | None = None,
         timeout_s: int = 60) -> Sipp:
    """The phone dials ``number`` at Asterisk, sends its tone for ``call_ms`` once answered, hangs up.
    From a trunk, ``caller_id`` is the outside caller's number. With ``hold``, it talks, holds and
    talks again, ``call_ms`` each. ``calls`` calls at once, started ``per_second``."""
    return Sipp("caller-hold.xml" if hold else "caller.xml", phone, workdir,
                {"caller": caller_id or phone.endpoint, "stream": f"{tone},-1,0", "test_id": test_id or "-",
                 "trunk": phone.trunk_header},
                pause_ms=call_ms, remote=ASTERISK_SIP, service=number, calls=calls, per_second=per_second,
                timeout_s=timeout_s)


# What caller.xml does between answer and hangup: its tone for -d ms.
_TALK = """  <nop><action><exec rtp_stream="[stream]"/></action></nop>
  <pause/>
  <nop><action><exec rtp_stream="pause"/></action></nop>"""
# RFC 2833 digits (payload 96, as the SDP offers) go out with the tone paused: SIPp sends them with their
# own SSRC, and audio meanwhile makes Asterisk restart the digit on every packet.
_DTMF_MS = 800


def codes_scenario(workdir: Path, call_ms: int, digits_at: list[tuple[int, str]], talk: bool = True) -> Path:
    """caller.xml made to dial, at each ``(ms after answer, digits)``, the digits (RFC 2833), the call
    lasting ``call_ms`` once answered; written into ``workdir``. Without ``talk`` the phone sends digits
    only: SIPp 3.6 goes on sending its tone between the digits of a string despite the pause, in a
    sequence of its own, which makes Asterisk report a digit ending more than once (and breaks its
    one-touch features)."""
    steps = ['  <nop><action><exec rtp_stream="[stream]"/></action></nop>'] if talk else []
    elapsed = 0
    for at_ms, digits in sorted(digits_at):
        steps += [f'  <pause milliseconds="{max(0, at_ms - elapsed)}"/>',
                  '  <nop><action><exec rtp_stream="pause"/></action></nop>',
                  f'  <nop><action><exec play_dtmf="{digits}"/></action></nop>',
                  f'  <pause milliseconds="{_DTMF_MS}"/>',
                  '  <nop><action><exec rtp_stream="resume"/></action></nop>']
        elapsed = at_ms + _DTMF_MS
    steps += [f'  <pause milliseconds="{max(0, call_ms - elapsed)}"/>',
              '  <nop><action><exec rtp_stream="pause"/></action></nop>']
    if not talk:
        steps = [step for step in steps if "rtp_stream" not in step]
    scenario = (SCENARIOS / "caller.xml").read_text()
    assert _TALK in scenario, "caller.xml's talk section changed"
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "caller-codes.xml"
    path.write_text(scenario.replace(_TALK, "\n".join(steps)))
    return path


def call_with_codes(phone: Phone, number: str, tone: Path, workdir: Path, call_ms: int,
                    digits_at: list[tuple[int, str]], caller_id: str | None = None, talk: bool = True) -> Sipp:
    """Like ``call``, and at each ``(ms after answer, digits)`` the phone dials the digits (RFC 2833);
    without ``talk``, it sends digits only (see ``codes_scenario``)."""
    path = codes_scenario(workdir, call_ms, digits_at, talk)
    return Sipp(str(path), phone, workdir,
                {"caller": caller_id or phone.endpoint, "stream": f"{tone},-1,0", "test_id": "-",
                 "trunk": phone.trunk_header},
                pause_ms=0, remote=ASTERISK_SIP, service=number)
