#!/usr/bin/env bash
# Makes the notice prompts from text with espeak-ng, in the formats Asterisk plays without transcoding
# on the usual trunks and phones: alaw, ulaw (8 kHz), g722 and sln16 (16 kHz).
# Needs espeak-ng, sox and ffmpeg. Run from anywhere; writes sounds/<language>/notice.<format>.
set -euo pipefail
cd "$(dirname "$0")"

make_prompt() {
    local language=$1 voice=$2 name=$3 text=$4 work
    work=$(mktemp -d)
    mkdir -p "$language"
    espeak-ng -v "$voice" -s 150 -w "$work/raw.wav" "$text"
    # A short lead-in so the first syllable survives early-media start-up, and a clean end.
    sox "$work/raw.wav" -r 16000 -c 1 -b 16 "$work/16k.wav" pad 0.2 0.2 norm -3
    sox "$work/16k.wav" -t raw -e signed-integer -b 16 -r 16000 "$language/$name.sln16"
    sox "$work/16k.wav" -t raw -r 8000 -e u-law -b 8 "$language/$name.ulaw"
    sox "$work/16k.wav" -t raw -r 8000 -e a-law -b 8 "$language/$name.alaw"
    ffmpeg -loglevel error -y -i "$work/16k.wav" -ar 16000 -c:a g722 -f g722 "$language/$name.g722"
    rm -r "$work"
}

make_prompt en en-gb notice "This call is recorded."
make_prompt nl nl notice "Dit gesprek wordt opgenomen."
make_prompt en en-gb refused "This call cannot be recorded right now, so it is not connected. Please try again later."
make_prompt nl nl refused "Dit gesprek kan nu niet worden opgenomen en wordt daarom niet doorverbonden. Probeer het later opnieuw."
