"""Replies per second of python rivescript and python-aiml on a generated bot, every reply checked.

python python_bench.py rivescript|aiml BOT INPUTS EXPECTED SECONDS

Runs the inputs in order (user ids rotate) for SECONDS and compares each reply with the expected
one (same line of EXPECTED); prints rate, replies, and how many replies were right.
"""
import json
import sys
import time


def main():
    kind, bot, inputs_file, expected_file, seconds = sys.argv[1:6]
    inputs = open(inputs_file, encoding="utf-8").read().split("\n")
    expected = open(expected_file, encoding="utf-8").read().split("\n")
    pairs = [(i, e) for i, e in zip(inputs, expected) if i]
    if kind == "rivescript":
        from rivescript import RiveScript

        rs = RiveScript()
        rs.stream(open(bot, encoding="utf-8").read())
        rs.sort_replies()
        reply = lambda user, text: rs.reply(user, text)
    else:
        import aiml

        kernel = aiml.Kernel()
        kernel.verbose(False)
        kernel.learn(bot)
        reply = lambda user, text: kernel.respond(text, user)
    limit = float(seconds)
    start = time.perf_counter()
    replies = 0
    right = 0
    done = False
    while not done:
        for text, want in pairs:
            got = reply("user%d" % (replies % 100), text)
            right += " ".join(str(got).split()) == want
            replies += 1
            if time.perf_counter() - start > limit:
                done = True
                break
    elapsed = time.perf_counter() - start
    print(json.dumps({"replies": replies, "right": right, "elapsed": elapsed, "rate": replies / elapsed}))


main()
