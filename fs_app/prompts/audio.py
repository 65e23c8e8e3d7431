"""Audio work for prompts: synthesis with espeak-ng, conversion with sox, WAV checks.

FreeSWITCH plays 8 kHz mono 16-bit PCM WAV files to a G.711 call without resampling, so that is
the one format stored in the prompt directory. Both tools are Debian packages (``espeak-ng``,
``sox``); they are looked up on PATH when needed, and their absence is reported with the
package name rather than as a Python traceback.
"""
from __future__ import annotations

import array
import shutil
import subprocess
import sys
import wave
from dataclasses import dataclass
from pathlib import Path

SAMPLE_RATE = 8000
CHANNELS = 1
SAMPLE_WIDTH = 2  # bytes: 16-bit signed PCM

# Voices by prompt language. Debian's espeak-ng 1.51 reads the pinyin that its `cmn` voice
# derives from Chinese characters with English letter rules ("ni3" -> "nee three");
# `cmn-latn-pinyin` is the same Mandarin voice with pinyin read as pinyin.
VOICES = {"zh": ("cmn-latn-pinyin", "cmn"), "en": ("en",)}
SPEED_WPM = {"zh": 175, "en": 160}  # English a little slower than espeak's 175 for telephone listeners
# espeak-ng's default amplitude (100) clips the Mandarin voice; sox then normalizes the level.
AMPLITUDE = 60
# A prompt whose loudest sample stays under this (about -50 dBFS) is treated as silence.
SILENCE_PEAK = 100

_TOOL_PACKAGES = {"espeak-ng": "espeak-ng", "sox": "sox"}


class AudioToolMissing(RuntimeError):
    """espeak-ng or sox is not installed; the message names the Debian package."""


class AudioError(ValueError):
    """A file is not usable audio; the message is one line fit for an operator."""


@dataclass(frozen=True)
class WavInfo:
    channels: int
    sample_width: int
    rate: int
    frames: int
    peak: int  # largest absolute sample value (16-bit files only; 0 otherwise)

    @property
    def seconds(self) -> float:
        return self.frames / self.rate if self.rate else 0.0

    @property
    def is_telephone_format(self) -> bool:
        return (self.channels, self.sample_width, self.rate) == (CHANNELS, SAMPLE_WIDTH, SAMPLE_RATE)

    def describe(self) -> str:
        layout = {1: "mono", 2: "stereo"}.get(self.channels, f"{self.channels} channels")
        return f"{self.rate} Hz {layout} {self.sample_width * 8}-bit, {self.seconds:.1f} s"


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise AudioToolMissing(
            f"{name} is not installed: install the Debian package {_TOOL_PACKAGES[name]} "
            f"(apt-get install -y {_TOOL_PACKAGES[name]})"
        )
    return path


def read_wav(path: Path | str) -> WavInfo:
    """Inspect a file; AudioError if it is not a complete RIFF/WAVE PCM file."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate, frames = (
                wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes())
            data = wav.readframes(frames)
    except wave.Error as exc:
        raise AudioError(f"not a PCM WAV file ({exc})") from None
    except EOFError:
        raise AudioError("not a PCM WAV file (the header is cut short)") from None
    except OSError as exc:
        raise AudioError(f"cannot read the file ({exc.strerror or exc})") from None
    if channels < 1 or width < 1 or rate < 1:
        raise AudioError("not a usable WAV file (zero channels, sample size or rate in the header)")
    expected = frames * channels * width
    if len(data) < expected:
        raise AudioError(
            f"the WAV file is truncated: its header announces {frames} frames but only "
            f"{len(data) // (channels * width)} are present")
    peak = 0
    if width == 2 and data:
        samples = array.array("h")
        samples.frombytes(data[: len(data) - len(data) % 2])
        if sys.byteorder == "big":
            samples.byteswap()  # WAV data is little-endian
        peak = max(max(samples), -min(samples))
    return WavInfo(channels, width, rate, frames, peak)


def convert_to_telephone(source: Path, target: Path, *, normalize: bool = False) -> None:
    """Resample/remix any audio sox reads to 8 kHz mono 16-bit PCM WAV; ``normalize`` levels
    synthesized speech to -3 dBFS so all generated prompts sound equally loud."""
    command = [tool("sox"), "-q", "-G", str(source),  # -G: guard against clipping while resampling
               "-r", str(SAMPLE_RATE), "-c", str(CHANNELS),
               "-b", str(SAMPLE_WIDTH * 8), "-e", "signed-integer", "-t", "wav", str(target)]
    if normalize:
        command += ["gain", "-n", "-3"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise AudioError(f"sox could not convert the file: {detail}")


def available_voice(lang: str) -> str:
    """The first installed espeak-ng voice for a prompt language."""
    candidates = VOICES[lang]
    result = subprocess.run([tool("espeak-ng"), "--voices"], capture_output=True, text=True, timeout=30)
    installed = set()
    for line in result.stdout.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 2:
            installed.add(fields[1])
    for voice in candidates:
        if voice in installed:
            return voice
    # espeak-ng resolves language codes that are not listed as voice names (e.g. "en").
    return candidates[-1]


def synthesize(text: str, lang: str, voice: str, target: Path, work_dir: Path) -> WavInfo:
    """Speak ``text`` into ``target`` as telephone-format WAV; returns the result's info."""
    raw = work_dir / (target.stem + ".espeak.wav")
    result = subprocess.run(
        [tool("espeak-ng"), "-v", voice, "-s", str(SPEED_WPM[lang]), "-a", str(AMPLITUDE),
         "-w", str(raw), "--", text],
        capture_output=True, text=True, timeout=120,
    )
    if result.returncode != 0 or not raw.exists():
        detail = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise AudioError(f"espeak-ng failed for voice {voice}: {detail}")
    convert_to_telephone(raw, target, normalize=True)
    raw.unlink()
    info = read_wav(target)
    if not info.is_telephone_format or info.frames == 0 or info.peak < SILENCE_PEAK:
        raise AudioError(f"synthesis produced unusable audio for {target.name} ({info.describe()})")
    return info
