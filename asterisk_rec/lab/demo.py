"""The demo's recorded call: Alice (recording always on) calls Bob through the running service, with
real SIPp phones sending tones; then the recording is fetched back over ARI and described.

    python -m asterisk_rec.lab.demo --env-file /var/lib/asterisk-rec-lab/asterisk-rec.env
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from asterisk_rec.adapters.ari import AriRest
from asterisk_rec.adapters.db import Database
from asterisk_rec.config import load_settings
from asterisk_rec.directory.store import DirectoryStore
from asterisk_rec.lab.directory import LAB_ORGANISATION, seed_lab_directory
from asterisk_rec.testing.sipp import ALICE_DESK, BOB_DESK, answer, call, ulaw_tone
from asterisk_rec.testing.tones import read_wav, tone_coverage


async def demo(env_file: Path, seconds: int) -> None:
    settings = load_settings(env_file=env_file)
    async with Database(settings.database, max_size=1) as db:
        store = DirectoryStore(db)
        await seed_lab_directory(store)
        await store.set_recording(LAB_ORGANISATION, "201", "always")
    async with AriRest(settings.ari) as ari:
        listed = {r["name"] for r in (await ari.request("GET", "recordings/stored")).json()}
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            print("Alice (201, recording always on) calls Bob (202): Bob hears the notice, then they talk "
                  f"for {seconds} s ...")
            bob = answer(BOB_DESK, ulaw_tone(work / "bob.ul", 1300), work / "bob", ring_ms=1000)
            await asyncio.sleep(0.3)
            alice = call(ALICE_DESK, "202", ulaw_tone(work / "alice.ul", 700), work / "alice", call_ms=seconds * 1000)
            for phone in (alice, bob):
                if await asyncio.to_thread(phone.wait) != 0:
                    raise SystemExit(f"the demo call failed:\n{phone.log()}")
            await asyncio.sleep(1)
            made = sorted({r["name"] for r in (await ari.request("GET", "recordings/stored")).json()} - listed)
            if not made:
                raise SystemExit("the demo call was not recorded: see the service's log")
            target = work / "call.wav"
            await ari.download_stored_recording(made[-1], target)
            audio = read_wav(target)
            print(f"Recorded as {made[-1]} ({audio.seconds:.1f} s): Alice's 700 Hz in "
                  f"{tone_coverage(audio, 700):.0%} and Bob's 1300 Hz in {tone_coverage(audio, 1300):.0%} "
                  "of its 100 ms windows.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env-file", type=Path, required=True)
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(demo(args.env_file, args.seconds))


if __name__ == "__main__":
    main()
