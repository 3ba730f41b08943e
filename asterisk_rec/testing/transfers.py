"""Lab phones that transfer the call they are in, from either side: the callee answers, talks, and refers
the caller elsewhere; or the caller, once answered, talks and refers the callee elsewhere. A blind transfer
is a SIP REFER without Replaces; an attended one holds the call, makes a consultation call to the target
and then refers the held party to it with Replaces naming the consultation's dialog. No Referred-By
header (the case Asterisk's PR 1469 fixed). With ``refer_sub`` the phone asks for the transfer's progress
(NOTIFYs) and hangs up once told it succeeded, or failed; without, it sends ``Refer-Sub: false`` and hangs
up as soon as the REFER is accepted, as many desk phones do for a blind transfer.

One SIPp call holds both of an attended transfer's dialogs: SIPp maps a Call-ID ``anything///<its call
id>`` to its call, so the consultation goes out as ``consult///[call_id]``."""

from __future__ import annotations

from pathlib import Path

from asterisk_rec.testing.sipp import ASTERISK_SIP, Phone, Sipp


def _sdp(session: int = 1, version: int = 1, direction: str = "sendrecv") -> str:
    return f"""      v=0
      o=lab {session} {version} IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 96
      a=rtpmap:0 PCMU/8000
      a=rtpmap:96 telephone-event/8000
      a=fmtp:96 0-16
      a={direction}"""


_SDP = _sdp()
# The consultation's dialog, in the same SIPp call (see the module's docstring).
_CONSULT_CALL_ID = "consult///[call_id]"
_CONSULT_TAG = "[pid]SIPpTag02[call_number]"
# SIPp answers 200 to a NOTIFY the scenario does not wait for.
_ANSWERS_NOTIFYS = ("-aa",)


def _in_dialog(method: str, cseq: int, extra: str = "", sdp: str | None = None) -> str:
    """A request inside the call's dialog, from the headers kept when it was set up (``sdp``: its body)."""
    body = "      Content-Length: 0" if sdp is None else \
        f"      Content-Type: application/sdp\n      Content-Length: [len]\n\n{sdp}"
    retrans = "" if method == "ACK" else ' retrans="500"'
    return f"""  <send{retrans}>
    <![CDATA[
      {method} [$remote_contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$local_party]
      To: [$remote_party]
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: <sip:[local_ip]:[local_port]>
      Max-Forwards: 70
{extra}{body}
    ]]>
  </send>"""

_OK = """  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>"""


def _reinvite(cseq: int, version: int, direction: str) -> str:
    """A re-INVITE in the call's dialog, answered and acknowledged: ``sendonly`` holds the other party,
    ``sendrecv`` takes it back."""
    return "\n".join([_in_dialog("INVITE", cseq, sdp=_sdp(1, version, direction)),
                      '  <recv response="100" optional="true"/>', '  <recv response="200"/>',
                      _in_dialog("ACK", cseq)])

def _consultation() -> str:
    """The consultation call to ``[target]``, answered: its peer's To (with tag) and Contact kept."""
    return f"""  <send retrans="500">
    <![CDATA[
      INVITE sip:[target]@{ASTERISK_SIP} SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[caller]@[local_ip]:[local_port]>;tag={_CONSULT_TAG}
      To: <sip:[target]@{ASTERISK_SIP}>
      Call-ID: {_CONSULT_CALL_ID}
      CSeq: 1 INVITE
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      X-Lab-Trunk: no
      Content-Type: application/sdp
      Content-Length: [len]

{_sdp(2)}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200">
    <action>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="consult_party"/>
      <ereg regexp="tag=([^;> ]+)" search_in="hdr" header="To:" assign_to="consult_to,consult_tag"/>
      <ereg regexp="sip:[^>]*" search_in="hdr" header="Contact:" assign_to="consult_contact"/>
    </action>
  </recv>
  <Reference variables="consult_to"/>
  <send>
    <![CDATA[
      ACK [$consult_contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[caller]@[local_ip]:[local_port]>;tag={_CONSULT_TAG}
      To: [$consult_party]
      Call-ID: {_CONSULT_CALL_ID}
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>"""


def _consult(consult_ms: int) -> list[str]:
    """Holds the call and consults ``[target]``: its tone goes there for ``consult_ms``."""
    return ['  <nop><action><exec rtp_stream="pause"/></action></nop>',
            _reinvite(100, 2, "sendonly"),
            _consultation(),
            '  <nop><action><exec rtp_stream="resume"/></action></nop>',
            f'  <pause milliseconds="{consult_ms}"/>',
            '  <nop><action><exec rtp_stream="pause"/></action></nop>']


def _refer_with_replaces() -> str:
    replaces = f"consult%2F%2F%2F[call_id]%3Bto-tag%3D[$consult_tag]%3Bfrom-tag%3D{_CONSULT_TAG}"
    return _in_dialog("REFER", 101, f"      Refer-To: <sip:[target]@{ASTERISK_SIP}?Replaces={replaces}>\n")


def _consult_and_refer(consult_ms: int) -> str:
    """Consults (``_consult``), refers the held party to the target with Replaces, and hangs up once
    Asterisk ends the consultation (its BYE: the target went to the held party). The NOTIFYs of the
    transfer's progress come in any order with that BYE: SIPp answers them itself (``-aa``)."""
    return "\n".join([
        *_consult(consult_ms),
        _refer_with_replaces(),
        '  <recv response="100" optional="true"/>',
        '  <recv response="202"/>',
        '  <recv request="BYE"/>',
        _OK,
        _in_dialog("BYE", 102),
        '  <recv response="200" crlf="true"/>',
    ])


def _consult_too_late(consult_ms: int, talk_after_ms: int) -> str:
    """Consults (``_consult``) until the target hangs up (BYE on the consultation's dialog), refers the
    held party to it all the same (a Replaces naming a dialog that has ended), and a moment later (the
    NOTIFYs saying it failed come back to back, faster than a SIPp scenario takes them in turn: SIPp
    answers them itself, ``-aa``) takes the call back: unholds it, sends its tone for ``talk_after_ms``
    and hangs up."""
    return "\n".join([
        *_consult(consult_ms),
        '  <recv request="BYE"/>',
        _OK,
        _refer_with_replaces(),
        '  <recv response="100" optional="true"/>',
        '  <recv response="202"/>',
        '  <pause milliseconds="1500"/>',
        _reinvite(103, 3, "sendrecv"),
        '  <nop><action><exec rtp_stream="resume"/></action></nop>',
        f'  <pause milliseconds="{talk_after_ms}"/>',
        '  <nop><action><exec rtp_stream="pause"/></action></nop>',
        _in_dialog("BYE", 104),
        '  <recv response="200" crlf="true"/>',
    ])

def _refer_and_leave(refer_sub: bool, stay_on_failure: bool = False, leave_at_once: bool = False) -> str:
    """REFER, the 202, then (with a subscription) the NOTIFYs until a final one, then BYE; with
    ``stay_on_failure``, a final NOTIFY other than 200 keeps the phone in the call; with ``leave_at_once``,
    the phone hangs up after the first NOTIFY (100 Trying), not waiting for the outcome."""
    refer = _in_dialog("REFER", 101, f"      Refer-To: <sip:[target]@{ASTERISK_SIP}>\n"
                                     f"      Refer-Sub: {'true' if refer_sub else 'false'}\n")
    steps = ['  <nop><action><exec rtp_stream="pause"/></action></nop>', refer,
             '  <recv response="100" optional="true"/>', '  <recv response="202"/>']
    if refer_sub and leave_at_once:
        steps += ['  <recv request="NOTIFY"/>', _OK]
    elif refer_sub:
        # NOTIFYs report the transfer (100 Trying meanwhile) until one ends the subscription with its final
        # status (200 when the target answered, 503 or 603 else); each is answered 200.
        steps += ['  <label id="1"/>',
                  '  <recv request="NOTIFY">',
                  '    <action>',
                  '      <ereg regexp="terminated" search_in="hdr" header="Subscription-State:" check_it="false"'
                  ' assign_to="final"/>',
                  # (SIPp refuses a variable set and never used.)
                  *(['      <ereg regexp="SIP/2.0 200" search_in="body" check_it="false" assign_to="succeeded"/>']
                    if stay_on_failure else []),
                  '    </action>',
                  '  </recv>',
                  _OK,
                  '  <nop test="final" next="2"/>',
                  '  <nop next="1"/>',
                  '  <label id="2"/>']
        if stay_on_failure:
            # Told the transfer failed, the phone takes the call back: its tone again until the other
            # party hangs up.
            steps += ['  <nop test="succeeded" next="3"/>',
                      '  <nop><action><exec rtp_stream="resume"/></action></nop>',
                      '  <recv request="BYE"/>',
                      '  <nop><action><exec rtp_stream="pause"/></action></nop>',
                      _OK,
                      '  <nop next="4"/>']
    steps += ['  <label id="3"/>', _in_dialog("BYE", 102), '  <recv response="200" crlf="true"/>',
              '  <label id="4"/>']
    if refer_sub and leave_at_once:
        # Hanging up ends the subscription: Asterisk may still send its last NOTIFY.
        steps += ['  <recv request="NOTIFY" timeout="3000" ontimeout="5"/>', _OK, '  <label id="5"/>']
    return "\n".join(steps)


def _callee_scenario(ending: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="lab callee that transfers">
  <recv request="INVITE" crlf="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_party"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="called"/>
      <ereg regexp="sip:[^>]*" search_in="hdr" header="Contact:" assign_to="remote_contact"/>
      <assignstr assign_to="local_party" value="[$called];tag=[pid]SIPpTag01[call_number]"/>
    </action>
  </recv>
  <send>
    <![CDATA[
      SIP/2.0 180 Ringing
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    ]]>
  </send>
  <pause milliseconds="500"/>
  <send retrans="500">
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Type: application/sdp
      Content-Length: [len]

{_SDP}
    ]]>
  </send>
  <recv request="ACK" crlf="true"/>
  <nop><action><exec rtp_stream="[stream]"/></action></nop>
  <pause/>
{ending}
  <timewait milliseconds="500"/>
</scenario>
"""


def _caller_scenario(ending: str) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<scenario name="lab caller that transfers">
  <nop><action>
    <assignstr assign_to="local_party"
               value="&lt;sip:[caller]@[local_ip]:[local_port]&gt;;tag=[pid]SIPpTag00[call_number]"/>
  </action></nop>
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:[caller]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      X-Lab-Trunk: [trunk]
      Content-Type: application/sdp
      Content-Length: [len]

{_SDP}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true">
    <action>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="remote_party"/>
      <ereg regexp="sip:[^>]*" search_in="hdr" header="Contact:" assign_to="remote_contact"/>
    </action>
  </recv>
  <send>
    <![CDATA[
      ACK [$remote_contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$local_party]
      To: [$remote_party]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:[caller]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <nop><action><exec rtp_stream="[stream]"/></action></nop>
  <pause/>
{ending}
  <timewait milliseconds="500"/>
</scenario>
"""


def _written(workdir: Path, name: str, text: str) -> str:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / name
    path.write_text(text)
    return str(path)


def answer_and_transfer(phone: Phone, tone: Path, workdir: Path, target: str, talk_ms: int,
                        refer_sub: bool = False, stay_on_failure: bool = False, leave_at_once: bool = False) -> Sipp:
    """The phone rings half a second, answers, sends its tone for ``talk_ms``, then refers the caller to
    ``target`` and hangs up (see the module's docstring and ``_refer_and_leave``; ``stay_on_failure`` and
    ``leave_at_once`` need ``refer_sub``)."""
    scenario = _written(workdir, "callee-transfers.xml",
                        _callee_scenario(_refer_and_leave(refer_sub, stay_on_failure, leave_at_once)))
    return Sipp(scenario, phone, workdir, {"stream": f"{tone},-1,0", "target": target}, pause_ms=talk_ms)


def call_and_transfer(phone: Phone, number: str, tone: Path, workdir: Path, target: str, talk_ms: int,
                      refer_sub: bool = False, stay_on_failure: bool = False) -> Sipp:
    """The phone calls ``number``, sends its tone for ``talk_ms`` once answered, then refers the callee
    to ``target`` and hangs up."""
    scenario = _written(workdir, "caller-transfers.xml", _caller_scenario(_refer_and_leave(refer_sub, stay_on_failure)))
    return Sipp(scenario, phone, workdir, {"caller": phone.endpoint, "stream": f"{tone},-1,0", "target": target,
                                           "trunk": phone.trunk_header},
                pause_ms=talk_ms, remote=ASTERISK_SIP, service=number)


def answer_and_hang_up(phone: Phone, tone: Path, workdir: Path, talk_ms: int) -> Sipp:
    """The phone rings half a second, answers, sends its tone for ``talk_ms`` and hangs up (a transfer's
    target that ends the call)."""
    ending = "\n".join(['  <nop><action><exec rtp_stream="pause"/></action></nop>', _in_dialog("BYE", 102),
                        '  <recv response="200" crlf="true"/>'])
    scenario = _written(workdir, "callee-hangs-up.xml", _callee_scenario(ending))
    return Sipp(scenario, phone, workdir, {"stream": f"{tone},-1,0"}, pause_ms=talk_ms)


def call_until_hung_up(phone: Phone, number: str, tone: Path, workdir: Path) -> Sipp:
    """The phone calls ``number`` and, once answered, sends its tone until the other side hangs up (a
    picking phone, say)."""
    ending = "\n".join(['  <recv request="BYE"/>', '  <nop><action><exec rtp_stream="pause"/></action></nop>', _OK])
    scenario = _written(workdir, "caller-waits.xml", _caller_scenario(ending))
    return Sipp(scenario, phone, workdir, {"caller": phone.endpoint, "stream": f"{tone},-1,0", "target": "-",
                                           "trunk": phone.trunk_header}, pause_ms=0, remote=ASTERISK_SIP,
                service=number)



def answer_and_transfer_attended(phone: Phone, tone: Path, workdir: Path, target: str, talk_ms: int,
                                 consult_ms: int, too_late_then_talk_ms: int | None = None) -> Sipp:
    """The phone rings half a second, answers, sends its tone for ``talk_ms``, holds the caller, consults
    ``target`` for ``consult_ms`` and transfers the caller to it (``_consult_and_refer``); with
    ``too_late_then_talk_ms``, it transfers only once the target hung up, and then takes the call back for
    that long (``_consult_too_late``)."""
    ending = _consult_and_refer(consult_ms) if too_late_then_talk_ms is None else \
        _consult_too_late(consult_ms, too_late_then_talk_ms)
    scenario = _written(workdir, "callee-transfers-attended.xml", _callee_scenario(ending))
    return Sipp(scenario, phone, workdir, {"caller": phone.endpoint, "stream": f"{tone},-1,0", "target": target},
                pause_ms=talk_ms, extra=_ANSWERS_NOTIFYS)


def call_and_transfer_attended(phone: Phone, number: str, tone: Path, workdir: Path, target: str, talk_ms: int,
                               consult_ms: int) -> Sipp:
    """The phone calls ``number``, sends its tone for ``talk_ms`` once answered, holds the callee, consults
    ``target`` for ``consult_ms`` and transfers the callee to it."""
    scenario = _written(workdir, "caller-transfers-attended.xml", _caller_scenario(_consult_and_refer(consult_ms)))
    # A Call-ID without "@": it goes into the Refer-To's Replaces as it is.
    return Sipp(scenario, phone, workdir, {"caller": phone.endpoint, "stream": f"{tone},-1,0", "target": target,
                                           "trunk": phone.trunk_header},
                pause_ms=talk_ms, remote=ASTERISK_SIP, service=number,
                extra=("-cid_str", "%u-%p-lab", *_ANSWERS_NOTIFYS))
