//! Timing for the benches that run beside five other engineers' builds on 2 shared cores:
//! wall time there mostly measures how long the thread waited for a core (it was 2-4x the
//! CPU time under a load average of 10), so the figures are the thread's own CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), with the wall time beside them to show the load.

use std::time::Instant;

/// This thread's CPU time in nanoseconds (wall time where the clock is unavailable).
pub fn thread_cpu_ns() -> u64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime only writes the timespec it is given.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
        }
    }
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// Median over `rounds` rounds of `iterations` calls of `f`: (CPU µs, wall µs) per call.
pub fn median_us(rounds: usize, iterations: usize, mut f: impl FnMut()) -> (f64, f64) {
    let mut cpu = Vec::with_capacity(rounds);
    let mut wall = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let (c, w) = (thread_cpu_ns(), Instant::now());
        for _ in 0..iterations {
            f();
        }
        cpu.push((thread_cpu_ns() - c) as f64 / 1e3 / iterations as f64);
        wall.push(w.elapsed().as_secs_f64() * 1e6 / iterations as f64);
    }
    cpu.sort_by(f64::total_cmp);
    wall.sort_by(f64::total_cmp);
    (cpu[rounds / 2], wall[rounds / 2])
}
