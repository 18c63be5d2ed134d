"""Pillow thumbnails as a baseline: each JPEG decoded, `Image.thumbnail((256, 256))`, encoded as
JPEG quality 80, on threads through `asyncio.to_thread` and `asyncio.gather` (Pillow releases
the GIL while decoding, resizing and encoding). The inputs are read into memory before the
clock starts; every output is checked to be 256x144, and a sample is decoded in full.

`Image.thumbnail` keeps its defaults: JPEG draft mode (the decoder scales by 1/2, 1/4 or 1/8
while decoding, to no less than twice the target size), `reducing_gap=2.0` and the BICUBIC
filter. FILTER `lanczos` swaps the filter for LANCZOS, the kernel libvips' thumbnail uses, for a
comparison at the same filter; everything else stays the same.

Prints `result <name> <value>` lines for the C++ benchmark to read: images_per_s,
cpu_ms_per_image (process CPU time over the timed pass, all threads) and bad_outputs.
usage: images_pillow.py DIR COUNT [bicubic|lanczos [OUT]]   (reads DIR/0.jpg .. DIR/COUNT-1.jpg;
with OUT, writes the thumbnails of every tenth input after the clock stops, for the C++
benchmark to measure their quality: OUT/0.jpg, OUT/10.jpg, ... as encoded, and OUT/0.png,
OUT/10.png, ... made again the same way but saved losslessly)
"""
import asyncio
import io
import sys
import time

from PIL import Image


def thumbnail(data, lanczos, fmt="JPEG"):
    im = Image.open(io.BytesIO(data))
    if lanczos:
        im.thumbnail((256, 256), Image.Resampling.LANCZOS)
    else:
        im.thumbnail((256, 256))
    out = io.BytesIO()
    if fmt == "JPEG":
        im.save(out, "JPEG", quality=80)
    else:
        im.save(out, fmt)
    return out.getvalue(), im.size


async def timed(inputs, lanczos):
    # warm-up: the default executor's threads, Pillow's plugins
    await asyncio.gather(*(asyncio.to_thread(thumbnail, d, lanczos) for d in inputs[:8]))
    t0, c0 = time.perf_counter(), time.process_time()
    outputs = await asyncio.gather(*(asyncio.to_thread(thumbnail, d, lanczos) for d in inputs))
    return outputs, time.perf_counter() - t0, time.process_time() - c0


def main():
    directory, count = sys.argv[1], int(sys.argv[2])
    lanczos = len(sys.argv) > 3 and sys.argv[3] == "lanczos"
    inputs = []
    for i in range(count):
        with open("%s/%d.jpg" % (directory, i), "rb") as f:
            inputs.append(f.read())
    outputs, secs, cpu = asyncio.run(timed(inputs, lanczos))
    if len(sys.argv) > 4:
        for i in range(0, count, 10):
            with open("%s/%d.jpg" % (sys.argv[4], i), "wb") as f:
                f.write(outputs[i][0])
            with open("%s/%d.png" % (sys.argv[4], i), "wb") as f:
                f.write(thumbnail(inputs[i], lanczos, "PNG")[0])
    bad = 0
    for i, (data, size) in enumerate(outputs):
        if size != (256, 144) or data[:2] != b"\xff\xd8":
            bad += 1
        elif i % 40 == 0:
            im = Image.open(io.BytesIO(data))
            im.load()
            if im.size != (256, 144):
                bad += 1
    print("result images_per_s %.2f" % (count / secs))
    print("result cpu_ms_per_image %.3f" % (cpu * 1000 / count))
    print("result bad_outputs %d" % bad)


if __name__ == "__main__":
    main()
