//! Token counting figures, costline beside stock tiktoken-rs, in one run:
//! `cargo bench -p costline-core --bench tokens`.
//!
//! Prints the first count (which builds the o200k encoder), encoder build times, throughput on
//! English-like text, and the time for 100 KB of one repeated character. Figures are medians of
//! a few rounds; on a shared machine expect noise of ±20%.

use std::hint::black_box;
use std::time::{Duration, Instant};

use costline_core::tokens::{self, Encoder, Encoding};

fn main() {
    // Must come first: the first count of the process pays for building the encoder.
    let resident_before = resident_kb();
    let started = Instant::now();
    black_box(tokens::count("hello world", "gpt-4o"));
    let first_count = started.elapsed();
    let resident_o200k = resident_kb();

    println!("token counting (release build; median of rounds)\n");
    println!("first count, o200k (builds the encoder)   costline {}", ms(first_count));
    for encoding in Encoding::ALL {
        let ours = median(5, || {
            black_box(Encoder::build(encoding).expect("builds"));
        });
        let stock = median(3, || match encoding {
            Encoding::O200kBase => drop(black_box(tiktoken_rs::o200k_base().expect("builds"))),
            Encoding::Cl100kBase => drop(black_box(tiktoken_rs::cl100k_base().expect("builds"))),
        });
        println!(
            "encoder build, {:<12}                costline {}   tiktoken-rs {}",
            encoding.name(),
            ms(ours),
            ms(stock)
        );
    }

    if let (Some(before), Some(after)) = (resident_before, resident_o200k) {
        println!(
            "resident memory of the o200k encoder        costline {:>7.1} MB",
            (after - before) as f64 / 1024.0
        );
    }
    let calls = 200_000;
    let short = median(3, || {
        for _ in 0..calls {
            black_box(tokens::count(black_box("Hello, how are you today?"), black_box("gpt-4o")));
        }
    });
    println!(
        "count(\"Hello, how are you today?\", \"gpt-4o\")  costline {:>7.2} us per call",
        short.as_secs_f64() * 1e6 / calls as f64
    );

    let ours = tokens::encoder(Encoding::O200kBase).expect("builds");
    let stock = tiktoken_rs::o200k_base_singleton();
    println!();
    for (name, text) in [("English-like text", english_like(4_000_000)), ("CJK text", cjk_like(1_000_000))] {
        assert_eq!(ours.count(&text), stock.encode_ordinary(&text).len(), "counts must match on {name}");
        let ours_time = median(5, || {
            black_box(ours.count(black_box(&text)));
        });
        let stock_time = median(3, || {
            black_box(stock.encode_ordinary(black_box(&text)).len());
        });
        println!(
            "o200k, {name:<18} {:>5.1} MB   costline {:>6.1} MB/s   tiktoken-rs {:>6.1} MB/s",
            text.len() as f64 / 1e6,
            mb_per_s(text.len(), ours_time),
            mb_per_s(text.len(), stock_time)
        );
    }

    println!();
    let mut random = Random(11);
    let random_letters: String = (0..100_000).map(|_| (b'a' + random.below(26) as u8) as char).collect();
    for (name, text) in [
        ("\"a\" x 100_000", "a".repeat(100_000)),
        ("\" \" x 100_000", " ".repeat(100_000)),
        ("\"\\u00e9\" x 100_000", "\u{e9}".repeat(100_000)),
        // Not one repeated character but still one 100 KB pre-token: no chunk repeats.
        ("random a-z x 100_000", random_letters),
    ] {
        let ours_time = median(5, || {
            black_box(ours.count(black_box(&text)));
        });
        let stock_time = median(3, || {
            black_box(stock.encode_ordinary(black_box(&text)).len());
        });
        println!(
            "o200k, {name:<22} ({:>3} KB)  costline {}   tiktoken-rs {}   ({} vs {} tokens)",
            text.len() / 1000,
            ms(ours_time),
            ms(stock_time),
            ours.count(&text),
            stock.encode_ordinary(&text).len()
        );
    }
}

/// Resident set size from /proc (Linux); None elsewhere.
fn resident_kb() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn median(rounds: usize, mut run: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed()
        })
        .collect();
    times.sort();
    times[rounds / 2]
}

fn ms(d: Duration) -> String {
    format!("{:>7.1} ms", d.as_secs_f64() * 1e3)
}

fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

/// Deterministic pseudo-random numbers (xorshift64*).
struct Random(u64);

impl Random {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize % n
    }
}

/// English-like prose: common words drawn with a Zipf-like skew, some rarer long words and
/// made-up names (which need BPE merges), numbers, punctuation, capitals and paragraphs.
fn english_like(bytes: usize) -> String {
    const COMMON: &str = "the of and to a in is it you that he was for on are with as I his they be at one have \
        this from or had by hot word but what some we can out other were all there when up use your how said an \
        each she which do their time if will way about many then them write would like so these her long make \
        thing see him two has look more day could go come did number sound no most people my over know water \
        than call first who may down side been now find any new work part take get place made live where after \
        back little only round man year came show every good me give our under name very through just form \
        sentence great think say help low line differ turn cause much mean before move right boy old too same \
        tell does set three want air well also play small end put home read hand port large spell add even land \
        here must big high such follow act why ask men change went light kind off need house picture try us \
        again animal point mother world near build self earth father head stand own page should country found \
        answer school grow study still learn plant cover food sun four between state keep eye never last let \
        thought city tree cross farm hard start might story saw far sea draw left late run while press close \
        night real life few north open seem together next white children begin got walk example ease paper \
        group always music those both mark often letter until mile river car feet care second book carry took \
        science eat room friend began idea fish mountain stop once base hear horse cut sure watch color face \
        wood main enough plain girl usual young ready above ever red list though feel talk bird soon body dog \
        family direct pose leave song measure door product black short numeral class wind question happen \
        complete ship area half rock order fire south problem piece told knew pass since top whole king space";
    const RARE: &str = "photosynthesis infrastructure Kubernetes idempotency tokenizer serialization \
        Zurawicki heteroscedasticity Mississippi anthropomorphic cryptocurrency Copenhagen \
        electroencephalography thermodynamics Schwarzenegger microarchitecture reimbursement";
    let common: Vec<&str> = COMMON.split_whitespace().collect();
    let rare: Vec<&str> = RARE.split_whitespace().collect();
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let mut text = String::with_capacity(bytes + 64);
    let mut sentence_start = true;
    while text.len() < bytes {
        let roll = random.below(100);
        let word = if roll < 94 {
            // Zipf-like: the minimum of two uniform draws favours the front of the list.
            common[random.below(common.len()).min(random.below(common.len()))].to_string()
        } else if roll < 97 {
            rare[random.below(rare.len())].to_string()
        } else {
            random.below(100_000).to_string()
        };
        if !text.is_empty() && !text.ends_with('\n') {
            text.push(' ');
        }
        if sentence_start {
            let mut chars = word.chars();
            text.extend(chars.next().map(|c| c.to_ascii_uppercase()));
            text.push_str(chars.as_str());
            sentence_start = false;
        } else {
            text.push_str(&word);
        }
        match random.below(60) {
            0..=3 => {
                text.push('.');
                sentence_start = true;
            }
            4 => {
                text.push_str(".\n\n");
                sentence_start = true;
            }
            5..=8 => text.push(','),
            9 => text.push_str("'s"),
            10 => {
                text.push('?');
                sentence_start = true;
            }
            11 => text.push(';'),
            _ => {}
        }
    }
    text
}

/// Chinese-like text: common characters in clauses of varying length between punctuation.
fn cjk_like(bytes: usize) -> String {
    let chars: Vec<char> = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严".chars().collect();
    let punctuation = ['，', '。', '、', '；', '：', '？', '！'];
    let mut random = Random(7);
    let mut text = String::with_capacity(bytes + 64);
    while text.len() < bytes {
        for _ in 0..2 + random.below(20) {
            text.push(chars[random.below(chars.len())]);
        }
        text.push(punctuation[random.below(punctuation.len())]);
        if random.below(12) == 0 {
            text.push('\n');
        }
    }
    text
}
