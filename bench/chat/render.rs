//! Rendering answers (src/chat/render): a whole 10,000-token answer at once, and the same answer
//! streamed token by token through `StreamRenderer`, whose cost per token must not grow with
//! the answer's length (the naive way, re-rendering the whole text at every token, is measured
//! beside it on short answers to show what that would cost).

use std::time::{Duration, Instant};

use ferrochat::chat::render::{render_markdown, StreamRenderer};

use crate::stats::Samples;

/// The answer's length, in tokens of four characters (about what a model's tokenizer makes of
/// English and code).
pub const TOKENS: usize = 10_000;
/// The shorter answer whose per-token cost is compared with the long one's.
pub const SHORT_TOKENS: usize = 1_000;
/// Whole renders timed, after one not counted.
pub const RUNS: usize = 20;
/// The naive stream renders the whole text at every token: timed on these lengths only.
pub const NAIVE_TOKENS: [usize; 2] = [500, 1_000];

/// One section of a typical technical answer: prose, a list, a table, code, math.
const SECTION: &str = "## Step {n}: reading the file\n\n\
    The function below opens the file, reads it **line by line** and counts the words; \
    it returns an `io::Result` so that the caller decides what a missing file means. \
    See [the docs](https://doc.rust-lang.org/std/io/) for more.\n\n\
    - open with `File::open`\n- wrap it in a `BufReader`\n- [x] handle errors with `?`\n\n\
    | lines | words | time |\n|---:|---:|---|\n| 1,000 | 8,000 | 2 ms |\n| 10,000 | 80,000 | 19 ms |\n\n\
    ```rust\nuse std::io::{self, BufRead};\n\n/// Counts the words of a file.\n\
    fn count_words(path: &str) -> io::Result<usize> {\n    let file = std::fs::File::open(path)?;\n\
    \x20   let mut words = 0;\n    for line in io::BufReader::new(file).lines() {\n\
    \x20       words += line?.split_whitespace().count();\n    }\n    Ok(words)\n}\n```\n\n\
    The cost is linear, $O(n)$ for $n$ bytes, and the mean word length is\n\n\
    $$\\bar{x} = \\frac{1}{n} \\sum_{i=1}^{n} x_i$$\n\n\
    ```python\nwith open(path) as f:\n    print(sum(len(line.split()) for line in f))\n```\n\n";

/// An answer of at least `tokens` tokens, cut into its tokens.
pub fn answer_tokens(tokens: usize) -> Vec<String> {
    let mut text = String::new();
    let mut n = 1;
    while text.chars().count() < tokens * 4 {
        text.push_str(&SECTION.replace("{n}", &n.to_string()));
        n += 1;
    }
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(4)
        .take(tokens)
        .map(|chunk| chunk.iter().collect())
        .collect()
}

/// What was measured.
pub struct RenderTimings {
    /// The whole answer rendered at once.
    pub whole: Samples,
    /// Each `push` of the long answer's stream.
    pub pushes: Samples,
    /// The stream's total (pushes and the final whole render), per token: short, then long.
    pub per_token: [(usize, Duration); 2],
    /// The naive stream's cost per token, at each of `NAIVE_TOKENS`.
    pub naive_per_token: Vec<(usize, Duration)>,
    /// The answer's size in bytes.
    pub bytes: usize,
}

/// Streams `tokens` through a renderer; each push's duration and the total with the final
/// whole render.
fn stream(tokens: &[String]) -> (Samples, Duration) {
    let mut pushes = Samples::default();
    let started = Instant::now();
    let mut renderer = StreamRenderer::new();
    for token in tokens {
        let push = Instant::now();
        std::hint::black_box(renderer.push(token));
        pushes.push(push.elapsed());
    }
    std::hint::black_box(renderer.finish());
    (pushes, started.elapsed())
}

/// Runs the measurements (a few seconds).
pub fn measure() -> RenderTimings {
    let tokens = answer_tokens(TOKENS);
    let text: String = tokens.concat();
    let mut whole = Samples::default();
    for run in 0..=RUNS {
        let started = Instant::now();
        std::hint::black_box(render_markdown(&text));
        if run > 0 {
            whole.push(started.elapsed());
        }
    }
    // Warm-up (the highlighter's grammars load once).
    stream(&tokens[..SHORT_TOKENS]);
    let (_, short_total) = stream(&tokens[..SHORT_TOKENS]);
    let (pushes, long_total) = stream(&tokens);
    let naive_per_token = NAIVE_TOKENS
        .iter()
        .map(|&n| {
            let started = Instant::now();
            let mut so_far = String::new();
            for token in &tokens[..n] {
                so_far.push_str(token);
                std::hint::black_box(render_markdown(&so_far));
            }
            (n, started.elapsed() / n as u32)
        })
        .collect();
    RenderTimings {
        whole,
        pushes,
        per_token: [
            (SHORT_TOKENS, short_total / SHORT_TOKENS as u32),
            (TOKENS, long_total / TOKENS as u32),
        ],
        naive_per_token,
        bytes: text.len(),
    }
}
