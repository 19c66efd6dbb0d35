"""Replies per second of python rivescript and python-aiml on a generated bot.

python python_bench.py rivescript|aiml BOT INPUTS SECONDS
"""
import json
import sys
import time


def main():
    kind, bot, inputs_file, seconds = sys.argv[1:5]
    inputs = [line for line in open(inputs_file, encoding="utf-8").read().split("\n") if line]
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
    done = False
    while not done:
        for text in inputs:
            reply("user%d" % (replies % 100), text)
            replies += 1
            if time.perf_counter() - start > limit:
                done = True
                break
    elapsed = time.perf_counter() - start
    print(json.dumps({"replies": replies, "elapsed": elapsed, "rate": replies / elapsed}))


main()
