// Replies per second of rivescript-js on a generated bot, every reply checked:
// node rivescript_bench.js BOT.rive INPUTS.txt EXPECTED.txt SECONDS
const RiveScript = require("rivescript");
const fs = require("fs");

async function main() {
  const [bot, inputsFile, expectedFile, seconds] = process.argv.slice(2);
  const inputs = fs.readFileSync(inputsFile, "utf8").split("\n");
  const expected = fs.readFileSync(expectedFile, "utf8").split("\n");
  const pairs = inputs.map((m, i) => [m, expected[i]]).filter(([m]) => m);
  const rs = new RiveScript({ utf8: false });
  rs.stream(fs.readFileSync(bot, "utf8"));
  rs.sortReplies();
  const limit = Number(seconds) * 1000;
  const start = Date.now();
  let replies = 0;
  let right = 0;
  outer: for (;;) {
    for (const [input, want] of pairs) {
      const got = await rs.reply("user" + (replies % 100), input);
      if (got.split(/\s+/).join(" ").trim() === want) right++;
      replies++;
      if (Date.now() - start > limit) break outer;
    }
  }
  const elapsed = (Date.now() - start) / 1000;
  console.log(JSON.stringify({ replies, right, elapsed, rate: replies / elapsed }));
}
main();
