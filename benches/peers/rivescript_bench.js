// Replies per second of rivescript-js on a generated bot: node rivescript_bench.js BOT.rive INPUTS.txt SECONDS
const RiveScript = require("rivescript");
const fs = require("fs");

async function main() {
  const [bot, inputsFile, seconds] = process.argv.slice(2);
  const inputs = fs.readFileSync(inputsFile, "utf8").split("\n").filter(Boolean);
  const rs = new RiveScript({ utf8: false });
  rs.stream(fs.readFileSync(bot, "utf8"));
  rs.sortReplies();
  const limit = Number(seconds) * 1000;
  const start = Date.now();
  let replies = 0;
  outer: for (;;) {
    for (const input of inputs) {
      await rs.reply("user" + (replies % 100), input);
      replies++;
      if (Date.now() - start > limit) break outer;
    }
  }
  const elapsed = (Date.now() - start) / 1000;
  const heap = process.memoryUsage().heapUsed;
  console.log(JSON.stringify({ replies, elapsed, rate: replies / elapsed, heap }));
}
main();
