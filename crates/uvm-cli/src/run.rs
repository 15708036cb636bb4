//! `uvm run`: find or build the image, boot it, and pass the app's exit status on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use uvm_abi::hypercall::FatalReason;
use uvm_image::Image;
use uvm_manifest::{
    check_cpus, check_memory_mib, parse_env_file, parse_env_override, parse_stop_signal, parse_user, parse_workdir,
    RunConfig, UserSpec,
};
use uvm_vmm::{
    AppLaunch, AppUser, KernelFile, MappedFile, Outcome, RunReport, StagedMemory, StdIo, StopReason, VmResources,
    VmSpec, VolumeSpec,
};

use crate::build::{build_image, default_image_path};
use crate::cli::RunArgs;
use crate::network::NetworkFlags;

/// An image opened and checked, with what the app starts with and guest memory staged for it.
struct OpenedImage {
    /// How long finding, mapping and checking the image and working out the launch took (on
    /// the opening thread).
    took: std::time::Duration,
    /// Whether the checksum was hashed or vouched for.
    checksum: Checksum,
    path: PathBuf,
    mapped: MappedFile,
    memory_mib: u32,
    cpus: u32,
    stop: uvm_vmm::StopPolicy,
    launch: AppLaunch,
    network: uvm_net::NetworkConfig,
    volumes: Vec<VolumeSpec>,
    staged: StagedMemory,
    /// Where to save the image's hot-page profile after the run, and its candidates, when
    /// there was none to use (`crate::hot_pages`).
    learn_hot_pages: Option<(PathBuf, Vec<u64>)>,
    /// How many fresh frames the image thread backs ahead after the hand-over (those an
    /// earlier start touched and the gaps between them: `uvm_vmm::hot_copies::FreshWarmer`).
    fresh_backed: u64,
}

/// Finds (or builds), maps and checks the image, works out the app's launch and network from
/// the image's configuration, `args`, `network_flags` and `user_flag` (`--user`, checked;
/// `host_cpus`: the vCPU count when neither sets one), checks `volumes` against the image's
/// files, and stages guest memory (kernel, tables): none of it needs KVM.
fn open_image(
    args: RunArgs,
    network_flags: NetworkFlags,
    user_flag: Option<UserSpec>,
    volumes: Vec<VolumeSpec>,
    host_cpus: u32,
    vm: uvm_vmm::VmReceiver,
) -> Result<OpenedImage> {
    let started = std::time::Instant::now();
    let path = resolve_image(args.target.as_deref())?;
    let opened_at = SystemTime::now();
    let mapped = MappedFile::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let stamps = uvm_image::VerifiedStamps::for_user();
    let identity = uvm_image::FileIdentity::of(mapped.metadata());
    let (image, checksum) = check_image(&path, &mapped, opened_at, stamps.as_ref(), &identity)?;
    let config = RunConfig::from_toml(image.config_toml()?)
        .with_context(|| format!("{}: the image's run configuration is invalid", path.display()))?;
    let env = app_env(&config, &args)?;
    let entrypoint = args.entrypoint.as_deref().map(|program| entrypoint_of(program, &env)).transpose()?;
    let mut argv = vec![args.entrypoint.clone().unwrap_or_else(|| config.binary_name.clone())];
    argv.extend(if args.args.is_empty() && entrypoint.is_none() { config.args.clone() } else { args.args.clone() });
    let memory_mib = match args.memory_mib {
        Some(v) => check_memory_mib(v, "`--memory-mib`")?,
        None => config.memory_mib,
    };
    let cpus = match args.cpus {
        Some(v) => check_cpus(v, "`--cpus`")?,
        None => config.cpus.unwrap_or(host_cpus),
    };
    let stop_signal = match &args.stop_signal {
        Some(v) => parse_stop_signal(v, "`--stop-signal`")?,
        None => config.stop_signal().unwrap_or(uvm_abi::signal::SIGTERM),
    };
    let stop = uvm_vmm::StopPolicy { signal: stop_signal as i32, timeout: spec_stop_timeout(&args) };
    let network = network_flags.join(&config)?;
    let tmpfs = crate::volumes::join_tmpfs(&config.tmpfs, &args.tmpfs, &volumes)?;
    let read_only_root = args.read_only || config.read_only;
    crate::volumes::check_against_image(&volumes, &tmpfs, &image, read_only_root)?;
    let workdir = match &args.workdir {
        Some(dir) => parse_workdir(dir, "`--workdir`")?,
        None => config.workdir.clone(),
    };
    crate::volumes::check_workdir(&workdir, &image, read_only_root, &volumes, &tmpfs)?;
    let user = app_user(user_flag, args.user.as_deref(), &config, &image)?;
    let elf = image.app_elf_info()?;
    let hostname = crate::hostname::host_name(args.hostname.as_deref(), config.hostname.as_deref(), read_only_root)?;
    // Large pages only where the hot copies are off (see `large_pages_ready`), and not for an
    // entrypoint (the image's app is not loaded).
    let large_pages = entrypoint.is_none()
        && args.no_hot_pages
        && large_pages_ready(&mapped, &image, &elf, checksum, stamps.as_ref().map(|s| (s, &identity)));
    // Not for an entrypoint either. With large pages the read-only chunks they cover are
    // mapped whole: no copies then, only the fresh frames.
    let hot_profile = Image::stored_checksum(mapped.as_ref())
        .and_then(|checksum| crate::hot_pages::profile_path(checksum, &argv))
        .filter(|_| entrypoint.is_none() && !args.no_hot_pages);
    let (hot, fresh, vcpus, learn_hot_pages) = match hot_profile {
        Some(profile) => {
            let candidates = crate::hot_pages::read_only_pages(image.app_entry().data.offset, &elf);
            match crate::hot_pages::load(&profile, &candidates) {
                Some(loaded) if large_pages => (Vec::new(), loaded.fresh, loaded.vcpus, None),
                Some(loaded) => {
                    let mut hot = crate::hot_pages::grown_in_groups(&loaded.pages, image.app_entry().data.offset, &elf);
                    // The copies stay for the VM's life: at most a sixteenth of its memory.
                    let most = u64::from(memory_mib) * (1 << 20) / uvm_abi::layout::PAGE_SIZE / 16;
                    hot.truncate(usize::try_from(most).unwrap_or(usize::MAX));
                    (hot, loaded.fresh, loaded.vcpus, None)
                }
                None => (Vec::new(), Vec::new(), 0, Some((profile, candidates))),
            }
        }
        None => (Vec::new(), Vec::new(), 0, None),
    };
    let launch = AppLaunch {
        argv,
        envp: env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        workdir,
        tmpfs,
        prelink: first_addresses(&elf),
        // The image's app is not loaded when an entrypoint runs instead.
        prestage: if entrypoint.is_some() { Vec::new() } else { writable_pages(&image, &elf) },
        learn_hot: learn_hot_pages.is_some(),
        hot,
        fresh,
        // The vCPUs after the first that the start which learned the profile ran.
        vcpus_ahead: vcpus.saturating_sub(1).min(uvm_vmm::vcpus_ahead::MAX_VCPUS_AHEAD),
        large_pages,
        read_only_root,
        user,
        entrypoint,
        hostname,
    };
    let took = started.elapsed();
    let spec = vm_spec(&args, &mapped, (memory_mib, cpus), stop, launch, network, volumes);
    let staged = uvm_vmm::stage_memory(&spec, Some(vm)).with_context(|| format!("running {}", path.display()))?;
    let VmSpec { launch, network, volumes, .. } = spec;
    Ok(OpenedImage {
        took,
        checksum,
        path,
        mapped,
        memory_mib,
        cpus,
        stop,
        launch,
        network,
        volumes,
        staged,
        learn_hot_pages,
        fresh_backed: 0,
    })
}

/// Docker's PATH for finding an entrypoint when the app's environment has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where `--entrypoint`'s program (checked: not empty, no `:`) may be: the path given, or for
/// a name without `/` that name in each directory of the app's PATH (`env`'s) or else
/// docker's default, in order (an empty directory is the working directory, as in PATH).
fn entrypoint_of(program: &str, env: &BTreeMap<String, String>) -> Result<uvm_vmm::Entrypoint> {
    if program.is_empty() {
        bail!(
            "`--entrypoint` is empty: name the program to run instead of the image's app, a path in the VM \
             (`--entrypoint /bin/sh`) or a name found in the app's PATH (`--entrypoint sh`)"
        );
    }
    if program.contains(':') {
        bail!("`--entrypoint` is {program:?}: a program whose path holds a `:` cannot be an entrypoint; rename it");
    }
    let candidates = if program.contains('/') {
        vec![program.to_owned()]
    } else {
        let search = env.get("PATH").map_or(DEFAULT_PATH, String::as_str);
        search
            .split(':')
            .map(|dir| if dir.is_empty() { program.to_owned() } else { format!("{dir}/{program}") })
            .collect()
    };
    Ok(uvm_vmm::Entrypoint { candidates })
}

/// Who the app runs as: `--user` (`flag`, as written in `flag_text`) or else the image's
/// `[app] user`, resolved against the image's /etc/passwd and /etc/group; root when neither
/// names one (and then nothing is looked up).
/// The app's environment: the image's, then each env file's (`--env-file`, in order), then
/// each `-e` (later ones win), as docker orders them.
fn app_env(config: &RunConfig, args: &RunArgs) -> Result<BTreeMap<String, String>> {
    let host_env = |key: &str| std::env::var(key).ok();
    let mut env = config.env.clone();
    for file in &args.env_file {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("cannot read the env file {}", file.display()))?;
        env.extend(parse_env_file(&text, &file.display().to_string(), host_env)?);
    }
    for item in &args.env {
        env.extend(parse_env_override(item, host_env)?);
    }
    Ok(env)
}

fn app_user(flag: Option<UserSpec>, flag_text: Option<&str>, config: &RunConfig, image: &Image) -> Result<AppUser> {
    match (flag, config.user()) {
        (Some(spec), _) => {
            crate::user::for_image(&spec, crate::user::Origin::Flag(flag_text.unwrap_or_default()), image)
        }
        (None, Some(spec)) => crate::user::for_image(&spec, crate::user::Origin::Image, image),
        (None, None) => Ok(AppUser::default()),
    }
}

/// Whether the guest may map the app's read-only 2 MiB chunks with large pages, asked only
/// with `--no-hot-pages`: the image lays the app out for them (`uvm build` since ABI version
/// 8) and the host backs the first chunk with a 2 MiB page
/// ([`MappedFile::backs_with_large_page`]). Otherwise the guest maps small pages and rewrites
/// hot syscall sites as soon as ever: a large page it cannot have would only delay them.
/// Large pages and hot copies answer one problem (KVM maps a page of the read-only image slot
/// one fault at a time, never with its neighbours): a large page keeps the chunk shared
/// with other VMs but holds back the syscall-site rewrites inside it (a split costs a fault
/// for each page touched again), where the copies leave every site free to be rewritten. With
/// copies a Go service starts in 14.5 ms instead of 22.2 ms on a host where a trapped
/// syscall costs ~25 us (docs/PERFORMANCE.md); without them large pages are what is left to
/// cut the faults. A chunk the host backs with small folios is read in again as 2 MiB
/// ones ([`MappedFile::reload_in_large_folios`], the app's chunks only: ~2-4 ms, once) on a
/// run that hashed the image (its first runs, after a build or a copy), and on a later run
/// when a note in the user's stamps says this host gave this file 2 MiB folios before
/// (`VerifiedStamps::note_large_folios`): the page cache may have been reclaimed and refilled
/// piecemeal since, or another program read the file. A reload that gives none drops the
/// note, so a host or file system without 2 MiB folios for files costs no reload per start.
fn large_pages_ready(
    mapped: &MappedFile,
    image: &Image,
    elf: &uvm_image::ElfInfo,
    checksum: Checksum,
    notes: Option<(&uvm_image::VerifiedStamps, &uvm_image::FileIdentity)>,
) -> bool {
    let app = image.app_entry().data;
    let Some(at) = elf.large_chunk_in_image(app.offset).and_then(|at| usize::try_from(at).ok()) else {
        return false;
    };
    let hashed = checksum == Checksum::Hashed;
    if mapped.backs_with_large_page(at) {
        if let (true, Some((stamps, id))) = (hashed, notes) {
            stamps.note_large_folios(id);
        }
        return true;
    }
    let Some(app_end) = app.end().and_then(|end| usize::try_from(end).ok()) else { return false };
    if !hashed && !notes.is_some_and(|(stamps, id)| stamps.large_folios_noted(id)) {
        return false;
    }
    mapped.reload_in_large_folios(at..app_end);
    let large = mapped.backs_with_large_page(at);
    if let Some((stamps, id)) = notes {
        if large {
            stamps.note_large_folios(id);
        } else {
            stamps.forget_large_folios(id);
        }
    }
    large
}

/// How the image's checksum was settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Checksum {
    /// Hashed now (and recorded, if the file had settled).
    Hashed,
    /// A verified stamp says it passed as the file is now (see `uvm_image::VerifiedStamps`).
    Vouched,
}

/// Checks the mapped image: hashes it unless a verified stamp vouches for it as it is now,
/// and stamps it after a hash that passed.
fn check_image(
    path: &Path,
    mapped: &MappedFile,
    opened_at: SystemTime,
    stamps: Option<&uvm_image::VerifiedStamps>,
    identity: &uvm_image::FileIdentity,
) -> Result<(Image, Checksum)> {
    let stored = Image::stored_checksum(mapped.as_ref());
    if let (Some(stamps), Some(stored)) = (stamps, stored) {
        if stamps.vouch_for(identity, stored) {
            return Ok((Image::from_source_vouched(path, Box::new(mapped.clone()))?, Checksum::Vouched));
        }
    }
    let image = Image::from_source_releasing(path, Box::new(mapped.clone()), &mut |hashed| mapped.release(hashed))?;
    if let (Some(stamps), Some(stored)) = (stamps, stored) {
        stamps.record(identity, stored, opened_at);
    }
    Ok((image, Checksum::Hashed))
}

fn vm_spec<'a>(
    args: &RunArgs,
    mapped: &'a MappedFile,
    (memory_mib, cpus): (u32, u32),
    stop: uvm_vmm::StopPolicy,
    launch: AppLaunch,
    network: uvm_net::NetworkConfig,
    volumes: Vec<VolumeSpec>,
) -> VmSpec<'a> {
    VmSpec {
        image: mapped,
        kernel: uvm_embedded_kernel::guest_kernel(),
        kernel_file: || uvm_embedded_kernel::backing_file().map(|(file, offset)| KernelFile { file, offset }),
        memory_mib: u64::from(memory_mib),
        cpus,
        launch,
        trace_syscalls: args.trace_syscalls,
        timeout: args.timeout,
        stop,
        collect_stats: args.timings,
        // --timings wants the report, which needs every vCPU joined.
        exit_now: if args.timings { None } else { Some(exit_now) },
        network,
        volumes,
    }
}

/// Set in a start without a hot-page profile for its image and command line: where to save
/// the one it learns and the candidate pages (`crate::hot_pages`). Taken at the app's exit.
static LEARN_HOT_PAGES: std::sync::OnceLock<(PathBuf, Vec<u64>)> = std::sync::OnceLock::new();

/// Learns and saves the image's hot-page profile, if this start is to (once per command
/// line: a later start reads it). At the app's exit, before uvm's own: a file written, that
/// once.
fn learn_hot_pages_now() {
    if let Some((profile, candidates)) = LEARN_HOT_PAGES.get() {
        crate::hot_pages::learn(profile, candidates);
    }
}

/// Ends uvm with the app's exit status as soon as the app has exited (`VmSpec::exit_now`):
/// what `command` and `main` would do with it, less the wait for the other vCPU threads.
fn exit_now(status: i32) -> ! {
    learn_hot_pages_now();
    if uvm_vmm::stop::timed_out() {
        report_time_up(uvm_vmm::stop::stop_signal(), &format!("ended with status {}", app_exit_status(status)));
        exit_process(TIMED_OUT_STATUS, ())
    }
    exit_process(app_exit_status(status), ())
}

/// uvm's exit status when `--timeout` ran out, as timeout(1)'s.
const TIMED_OUT_STATUS: i32 = 124;

/// Says that `--timeout` ran out and how the app, sent stop signal `sig`, then ended (`how`).
fn report_time_up(sig: i32, how: &str) {
    let name = signal_name(sig as u32);
    eprintln!("uvm: the app did not finish within the time limit (--timeout); it was sent {name} and {how}");
}

/// Pages of hot copies and fresh frames left for the image thread after the hand-over from
/// which the main thread is kept off its CPU as it takes over (~1-2 us a page).
const PAGES_LEFT_TO_SPLIT: u64 = 32;

/// Exits with `status` once stdout and stderr are flushed, leaving the teardown of `vm` to the
/// reaper (`uvm_vmm::teardown`).
pub fn exit_process<T>(status: i32, vm: T) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    uvm_vmm::teardown::exit_process(status, vm)
}

/// uvm's exit status for an app that exited with `status` (its low 8 bits, as a shell sees).
fn app_exit_status(status: i32) -> i32 {
    status & 0xff
}

/// `uvm run`. Returns uvm's exit status and the VM (still alive: its teardown is left to the
/// exit path, after the status is out).
pub fn command(args: &RunArgs) -> Result<(i32, VmResources)> {
    // Bad flag values are reported before anything else is done.
    let network_flags = NetworkFlags::parse(args)?;
    let user_flag = args.user.as_deref().map(|v| parse_user(v, "`--user`")).transpose()?;
    let volumes = crate::volumes::parse(&args.volume)?;
    crate::volumes::parse_tmpfs(&args.tmpfs, &volumes)?;
    // The VM and its vCPU do not depend on the image: this thread creates them (and will run
    // the vCPU) while a second one opens and checks the image and stages guest memory.
    // The VM goes over to the opener as soon as it exists, which registers guest memory with
    // it while this thread creates the vCPU.
    let opener_args = args.clone();
    let (vm_sender, vm_receiver, early_copies) = uvm_vmm::vm_handoff();
    // The opened image comes back over a channel, not through a join: the thread's own exit
    // (glibc gives its stack back, ~30 us) then happens off the path to boot.
    let (opened_sender, opened_receiver) = std::sync::mpsc::sync_channel(1);
    // The hot copies are filled after that, on the same thread while the guest boots (and by
    // the guest's vCPU if its kernel comes to wait for them): how long it took and how many
    // this thread made come back here for `--timings`.
    let (filled_sender, filled_receiver) = std::sync::mpsc::sync_channel(1);
    // Read here, where it is the process's: the opener's own mask is narrowed for a moment.
    let allowed = uvm_vmm::process::AllowedCpus::of_this_thread();
    let host_cpus = uvm_vmm::host_cpus(allowed.as_ref());
    // Whether the opener narrowed this thread's mask for the hand-over (see below).
    let main_kept_off = Arc::new(AtomicBool::new(false));
    let (opener_allowed, opener_kept_off) = (allowed, Arc::clone(&main_kept_off));
    let open = move || {
        let mut opened = open_image(opener_args, network_flags, user_flag, volumes, host_cpus, vm_receiver);
        let copier = opened.as_mut().ok().and_then(|opened| opened.staged.take_hot_copier());
        let warmer = opened.as_mut().ok().and_then(|opened| opened.staged.take_fresh_warmer());
        let maker = opened.as_mut().ok().and_then(|opened| opened.staged.take_vcpu_maker());
        if let (Ok(opened), Some(warmer)) = (opened.as_mut(), warmer.as_ref()) {
            opened.fresh_backed = warmer.frames();
        }
        // With work left for this thread after the hand-over, the main thread, woken by it,
        // must not queue behind it on this CPU while the other idles (Linux here wakes a
        // thread on its waker's CPU: seen in 4 of 60 Go hello starts, the guest's start
        // 1-1.7 ms late behind the copies). Narrowing costs the two threads ~8 us; a few
        // pages' work ends sooner than that.
        let pages_left = copier.as_ref().map_or(0, |c| c.pages()) + warmer.as_ref().map_or(0, |w| w.frames());
        if (pages_left >= PAGES_LEFT_TO_SPLIT || maker.is_some())
            && opener_allowed.is_some_and(|allowed| allowed.keep_main_thread_off_this_cpu())
        {
            opener_kept_off.store(true, Ordering::Release);
        }
        let _ = opened_sender.send(opened);
        if let Some(copier) = copier {
            let _ = filled_sender.send(copier.fill());
        }
        // Then the fresh frames an earlier start touched, which the guest may touch first.
        if let Some(warmer) = warmer {
            warmer.warm();
        }
        // Then the vCPUs the app's threads or processes will ask for (it waits for the boot).
        if let Some(maker) = maker {
            maker.make();
        }
        // Staging copied the kernel into guest RAM: this process's pages of the bytes it
        // copied from go back (~10 us, so after the hand-over, not before).
        uvm_embedded_kernel::release_resident_pages();
    };
    // On another CPU than this thread's: Linux otherwise mostly queues the opener behind this
    // thread, on its CPU, until this thread sleeps, and the two take turns instead of
    // overlapping (~0.5 ms of a start here).
    match &allowed {
        Some(allowed) => allowed.spawn_elsewhere("uvm-open", open).map(drop),
        None => std::thread::Builder::new().name("uvm-open".into()).spawn(open).map(drop),
    }
    .context("cannot start the image-opening thread")?;
    // KVM's supported CPUID, as an earlier start on this boot of this host had it (~0.3 ms on
    // this thread otherwise: see uvm-vmm's `supported_cpuid.rs`).
    let cpuid_cache = uvm_image::user_cache_dir().map(|dir| dir.join("kvm-cpuid"));
    let prepared = uvm_vmm::prepare(uvm_embedded_kernel::guest_kernel(), Some(vm_sender), cpuid_cache.as_deref());
    if prepared.is_ok() {
        // Now, while the opener may still be working, rather than at the exit (see
        // `uvm_vmm::teardown`): the reaper takes copies of the VM's and vCPU's fds.
        uvm_vmm::teardown::start_reaper();
    }
    // While the opener finishes staging and registers the memory slots (asleep in KVM for
    // ~0.2 ms), this thread, done with the VM, fills hot copies the guest would wait for.
    let mut early = None;
    let copied_before_boot = match &prepared {
        Ok(_) => early_copies.help(|| {
            early = opened_receiver.try_recv().ok();
            early.is_some()
        }),
        Err(_) => 0,
    };
    let opened = match early {
        Some(opened) => Ok(opened),
        None => opened_receiver.recv(),
    };
    // Narrowed for the hand-over: the whole mask back, before any vCPU thread inherits it.
    if let (true, Some(allowed)) = (main_kept_off.load(Ordering::Acquire), allowed.as_ref()) {
        allowed.apply_to_this_thread();
    }
    let mut opened = opened.map_err(|_| anyhow::anyhow!("the image-opening thread panicked"))??;
    let prepared = prepared?;
    if let Some(learn) = opened.learn_hot_pages.take() {
        let _ = LEARN_HOT_PAGES.set(learn);
    }
    let (stage_took, slots_took) = (opened.staged.took(), opened.staged.slots_took());
    let (memory_mib, stop) = (opened.memory_mib, opened.stop);
    let spec =
        vm_spec(args, &opened.mapped, (memory_mib, opened.cpus), stop, opened.launch, opened.network, opened.volumes);
    let report = uvm_vmm::run_staged(prepared, opened.staged, &spec, &StdIo)
        .with_context(|| format!("running {}", opened.path.display()))?;
    learn_hot_pages_now();
    if args.timings {
        print_timings(&report, (opened.took, opened.checksum), stage_took, slots_took);
        let hot_pages = hot_pages_summary(args, &spec.launch);
        match filled_receiver.try_recv() {
            Ok((took, made)) => {
                // This thread fills copies before boot, the booting vCPU takes chunks of the
                // copying while its kernel waits for it.
                let by_vcpu = (spec.launch.hot.len() as u64).saturating_sub(made + copied_before_boot);
                let helpers: Vec<String> = [
                    (copied_before_boot, "by the main thread before boot"),
                    (by_vcpu, "by the booting vCPU as its kernel waited"),
                ]
                .iter()
                .filter(|(pages, _)| *pages > 0)
                .map(|(pages, by)| format!("{pages} {by}"))
                .collect();
                let by_vcpu =
                    if helpers.is_empty() { String::new() } else { format!(" (of them: {})", helpers.join(", ")) };
                eprintln!(
                    "  hot pages: {hot_pages} in {:.1} us, on the image thread while the guest booted{by_vcpu}",
                    took.as_secs_f64() * 1e6
                )
            }
            Err(_) => eprintln!("  hot pages: {hot_pages}"),
        }
        let fresh_frames: u64 = spec.launch.fresh.iter().map(|&(_, frames)| frames).sum();
        if fresh_frames > 0 {
            eprintln!(
                "  fresh frames: {fresh_frames} an earlier start touched, backed ahead on the image thread as the \
                 guest ran ({} with the gaps between them that would stop KVM's look-ahead)",
                opened.fresh_backed
            );
        }
    }
    Ok((exit_status(&report.outcome, memory_mib, args.timeout, stop), report.vm))
}

/// What `--timings` says of the start's hot pages (`launch` as the start had it).
fn hot_pages_summary(args: &RunArgs, launch: &AppLaunch) -> String {
    if args.no_hot_pages {
        "off (--no-hot-pages)".to_string()
    } else if launch.entrypoint.is_some() {
        "none (an entrypoint runs instead of the app)".to_string()
    } else if launch.learn_hot && launch.large_pages {
        "learned in this start (the next backs the fresh frames it touched ahead; the app's read-only 2 MiB \
         chunks map with large pages)"
            .to_string()
    } else if launch.learn_hot {
        "learned in this start (the next copies them)".to_string()
    } else if launch.large_pages {
        "none (the app's read-only 2 MiB chunks map with large pages)".to_string()
    } else {
        format!("{} of the app's read-only pages copied", launch.hot.len())
    }
}

/// Where the app will map memory first: every 2 MiB of its segments (biased for static-pie),
/// its stack and the top of the mmap area. The VMM links page tables for them before boot.
fn first_addresses(elf: &uvm_image::ElfInfo) -> Vec<u64> {
    use uvm_abi::layout::{LARGE_PAGE_SIZE, MMAP_TOP_VA, STACK_TOP_VA};
    let bias = elf.load_bias();
    let mut addresses = vec![STACK_TOP_VA - 1, MMAP_TOP_VA - 1];
    for s in &elf.segments {
        let (start, end) = (bias + s.vaddr, bias + s.vaddr + s.memsz);
        addresses.extend((start & !(LARGE_PAGE_SIZE - 1)..end).step_by(LARGE_PAGE_SIZE as usize));
    }
    addresses
}

/// The app's writable data pages, `(image offset, bytes)`: the VMM fills a frame with each
/// before boot (see `uvm_abi::boot::prestaged_pages`).
fn writable_pages(image: &Image, elf: &uvm_image::ElfInfo) -> Vec<(u64, u64)> {
    let segments = elf.segments.iter().map(|s| (s.offset, s.vaddr, s.filesz, s.flags));
    uvm_abi::boot::prestaged_pages(image.app_entry().data.offset, segments).collect()
}

/// How long the app may run on after uvm passed SIGINT or SIGTERM on to it.
fn spec_stop_timeout(args: &RunArgs) -> std::time::Duration {
    args.stop_timeout.unwrap_or(crate::cli::DEFAULT_STOP_TIMEOUT)
}

/// Turns how the app ended into uvm's exit status, telling the user why when it was killed.
fn exit_status(
    outcome: &Outcome,
    memory_mib: u32,
    timeout: Option<std::time::Duration>,
    stop: uvm_vmm::StopPolicy,
) -> i32 {
    let stop_timeout = stop.timeout;
    if uvm_vmm::stop::timed_out() {
        let limit = timeout.map_or(String::new(), |t| format!(" ({t:?})"));
        let sent = |how: &str| report_time_up(stop.signal, how);
        match outcome {
            Outcome::Exited(status, _) => sent(&format!("ended with status {}", app_exit_status(*status))),
            Outcome::Killed(fatal) if fatal.signal == stop.signal as u32 => sent("ended by it"),
            Outcome::Stopped(StopReason::Timeout) if stop_timeout.is_zero() => {
                eprintln!("uvm: the app did not finish within the time limit{limit} and was stopped (--timeout)")
            }
            Outcome::Stopped(StopReason::Timeout) => eprintln!(
                "uvm: the app did not finish within the time limit{limit}, nor {stop_timeout:?} after {}, and was stopped (--timeout, --stop-timeout)",
                signal_name(stop.signal as u32)
            ),
            // A fault or another signal: reported as usual, the status stays timeout(1)'s.
            other => {
                let _ = exit_status_of(other, memory_mib, stop_timeout);
            }
        }
        return TIMED_OUT_STATUS;
    }
    exit_status_of(outcome, memory_mib, stop_timeout)
}

/// [`exit_status`] when `--timeout` did not run out.
fn exit_status_of(outcome: &Outcome, memory_mib: u32, stop_timeout: std::time::Duration) -> i32 {
    match outcome {
        Outcome::Exited(status, _) => app_exit_status(*status),
        Outcome::Stopped(StopReason::Timeout) => TIMED_OUT_STATUS,
        Outcome::Stopped(StopReason::Signal(sig)) => {
            eprintln!("uvm: stopped by {} before the app finished", signal_name(*sig as u32));
            128 + sig
        }
        Outcome::Stopped(StopReason::StopTimeout(sig)) => {
            eprintln!(
                "uvm: the app was still running {stop_timeout:?} after uvm passed {} on to it, and was stopped (--stop-timeout)",
                signal_name(*sig as u32)
            );
            128 + sig
        }
        Outcome::Killed(fatal) => {
            if FatalReason::from_raw(fatal.reason) == Some(FatalReason::OutOfMemory) {
                eprintln!(
                    "uvm: the app ran out of memory (the VM has {memory_mib} MiB; raise [vm] memory_mib or pass --memory-mib) and was killed"
                );
                return 137;
            }
            // A write to a pipe whose reader is gone: the usual end of a producer in a
            // shell pipeline (`uvm run app | head`), which shells and docker leave unreported.
            if fatal.signal == uvm_abi::signal::SIGPIPE {
                return 128 + fatal.signal as i32;
            }
            let name = signal_name(fatal.signal);
            let mut line = format!("uvm: the app was killed by {name}");
            if fatal.vector == u32::MAX && fatal.signal == uvm_abi::signal::SIGALRM {
                line += &format!(
                    " (its alarm or interval timer expired, or it sent the signal itself; instruction pointer {:#x})",
                    fatal.instruction_pointer
                );
            } else if fatal.vector != u32::MAX {
                line += &format!(
                    " (fault address {:#x}, instruction pointer {:#x})",
                    fatal.fault_address, fatal.instruction_pointer
                );
            } else {
                line += &format!(" (sent by the app itself at instruction pointer {:#x})", fatal.instruction_pointer);
            }
            eprintln!("{line}");
            128 + fatal.signal as i32
        }
    }
}

fn signal_name(sig: u32) -> String {
    uvm_abi::signal::name(sig).map_or_else(|| format!("signal {sig}"), str::to_string)
}

fn print_timings(
    report: &RunReport,
    (open_took, checksum): (std::time::Duration, Checksum),
    stage_took: std::time::Duration,
    slots_took: Option<std::time::Duration>,
) {
    eprintln!("uvm timings:");
    let checksum = match checksum {
        Checksum::Hashed => "checksum hashed",
        Checksum::Vouched => "checksum vouched for by a verified stamp",
    };
    eprintln!(
        "  {:<14} {:>9.1} us  (checks, config, the app's ELF; {checksum}; in parallel with creating the VM)",
        "open image",
        open_took.as_secs_f64() * 1e6
    );
    eprintln!("  {:<14} {:>9.1} us  (kernel, page tables; then too)", "stage memory", stage_took.as_secs_f64() * 1e6);
    if let Some(took) = slots_took {
        eprintln!("  {:<14} {:>9.1} us  (then too, once the VM exists)", "memory slots", took.as_secs_f64() * 1e6);
    }
    for (phase, d) in &report.timings.phases {
        eprintln!("  {phase:<14} {:>9.1} us", d.as_secs_f64() * 1e6);
    }
    eprintln!("  {:<14} {:>9.1} us", "total", report.timings.total().as_secs_f64() * 1e6);
    if let Some(took) = report.late_ram_took {
        eprintln!(
            "  {:<14} {:>9.1} us  (RAM past the first {} MiB, registered on its own thread while the guest ran; \
             the guest run above ends once it is done)",
            "late RAM slot",
            took.as_secs_f64() * 1e6,
            uvm_vmm::late_ram::RAM_AT_BOOT >> 20
        );
    }
    let (registered, ram) = report.ram_registered;
    if registered < ram {
        eprintln!(
            "  {:<14} {} of {} MiB registered with KVM (the rest only once the guest has used half of \
             that)",
            "RAM slot",
            registered >> 20,
            ram >> 20
        );
    }
    eprintln!("  {:<14} after the exit status is out (a reaper destroys the VM)", "teardown");
    if let Outcome::Exited(_, g) = &report.outcome {
        let us = |tsc: u64| (tsc.saturating_sub(report.first_run_tsc)) as f64 * 1000.0 / report.tsc_khz.max(1) as f64;
        eprintln!(
            "  guest: kernel entered at {:.1} us, app entered at {:.1} us, exit at {:.1} us (from the first KVM_RUN)",
            us(g.kernel_entry_tsc),
            us(g.app_entry_tsc),
            us(g.exit_tsc)
        );
        eprintln!(
            "  guest: {} syscalls served in the VM ({} through {} patched sites), {} demand page faults, {} TLB flushes, {} KiB of guest memory in use, {} large pages (2 MiB chunks of the app's read-only image), {} writes through the console ring",
            g.syscalls,
            g.patched_syscalls,
            g.patched_sites,
            g.demand_faults,
            g.tlb_flushes,
            g.frames_in_use * 4,
            g.large_image_pages,
            g.console_ring_writes
        );
        if g.hot_pages_given_back > 0 {
            eprintln!(
                "  guest: {} hot copies given back at {:.1} ms ({} entries pointed back at the image; took {:.1} us)",
                g.hot_pages_given_back,
                us(g.hot_give_back_tsc) / 1000.0,
                g.hot_entries_repointed,
                us(g.hot_give_back_end_tsc) - us(g.hot_give_back_tsc)
            );
        }
    }
    let e = &report.exits;
    let calls: Vec<String> = uvm_abi::hypercall::Hypercall::ALL
        .iter()
        .filter_map(|&h| {
            let n = e.hypercalls.get(h as usize).copied().unwrap_or(0);
            (n > 0).then(|| format!("{} {n}", uvm_vmm::hypercall::name(h)))
        })
        .collect();
    // Doorbells that KVM handled itself are no exit: only unparks before a vCPU's first park
    // registered its doorbell, console doorbells before the console thread registered its
    // own (or either where KVM refused) show here.
    eprintln!("  exits: {} (hypercalls: {}; doorbells {}; other {})", e.total, calls.join(", "), e.doorbells, e.other);
    match report.vcpus_ahead {
        Some((made, used)) => eprintln!(
            "  vCPUs started: {} ({made} made ahead while the guest booted, {used} of them taken)",
            report.vcpus_started
        ),
        None => eprintln!("  vCPUs started: {}", report.vcpus_started),
    }
    if report.net.calls > 0 {
        eprintln!(
            "  net: {} calls, {} poller wake-ups ({} vCPU unparks)",
            report.net.calls, report.net.poller_batches, report.net.poller_wakes
        );
    }
    if !report.kvm_counters.is_empty() {
        let count = |name: &str| report.kvm_counters.iter().find(|(k, _)| k == name).map_or(0, |(_, v)| *v);
        // KVM emulates the instruction of each fault it cannot map (`pf_emulate`): the MMIO
        // hypercalls, the unpark and console doorbells it hands to an eventfd itself (no exit),
        // and the guest's writes to page tables it shadows. The guest counts its doorbell
        // writes; those that exited are among the MMIO exits already.
        let emulated_faults = count("pf_emulate");
        let mmio = count("mmio_exits").min(emulated_faults);
        let doorbells_in_kvm = match &report.outcome {
            Outcome::Exited(_, g) => g.doorbell_writes.saturating_sub(e.doorbells),
            _ => 0,
        };
        let doorbells_in_kvm = doorbells_in_kvm.min(emulated_faults - mmio);
        eprintln!(
            "  kvm: {} shadow-page faults, {} emulated instructions (cpuid traps and ring-0 exception stubs; \
             besides, {} page-table writes, {} MMIO hypercalls and {} doorbells rung inside KVM)",
            count("pf_taken"),
            count("insn_emulation").saturating_sub(emulated_faults),
            emulated_faults - mmio - doorbells_in_kvm,
            mmio,
            doorbells_in_kvm
        );
        let line: Vec<String> = report.kvm_counters.iter().map(|(k, v)| format!("{k}={v}")).collect();
        eprintln!("  kvm vcpu counters: {}", line.join(" "));
    }
}

/// The image to run: the target itself, or the image of a manifest (built when missing or
/// stale), or the image of a static program (`crate::program`; a target named `*.uvm` is
/// not looked at for that), or the image of ./app.toml.
fn resolve_image(target: Option<&Path>) -> Result<PathBuf> {
    let target = target.unwrap_or(Path::new("app.toml"));
    if target.extension().is_none_or(|e| e != "uvm" && e != "toml") && crate::program::is_program(target) {
        return crate::program::program_image(target);
    }
    if target.extension().is_some_and(|e| e == "toml") {
        if !target.exists() {
            bail!("{} does not exist; give an image or a manifest (uvm run IMAGE|MANIFEST)", target.display());
        }
        let app = uvm_manifest::load(target)?;
        let image = default_image_path(&app);
        if is_stale(&image, &app.input_paths()) {
            build_image(&app, &image)?;
        }
        return Ok(image);
    }
    if !target.exists() {
        bail!("{} does not exist; build it with `uvm build MANIFEST`", target.display());
    }
    Ok(target.to_path_buf())
}

/// Whether `image` is missing or older than any input (walking directories) or than uvm itself.
pub fn is_stale(image: &Path, inputs: &[PathBuf]) -> bool {
    let Ok(built) = image.metadata().and_then(|m| m.modified()) else {
        return true;
    };
    let mut newest = SystemTime::UNIX_EPOCH;
    let mut pending: Vec<PathBuf> = inputs.to_vec();
    if let Ok(exe) = std::env::current_exe() {
        pending.push(exe);
    }
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::metadata(&path) else { return true };
        if let Ok(modified) = meta.modified() {
            newest = newest.max(modified);
        }
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                pending.extend(entries.flatten().map(|e| e.path()));
            }
        }
    }
    newest > built
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entrypoints_name_is_looked_up_in_the_apps_path_and_a_path_is_taken_as_it_is() {
        let env = |path: Option<&str>| path.map(|p| ("PATH".to_owned(), p.to_owned())).into_iter().collect();
        let candidates = |program: &str, path: Option<&str>| entrypoint_of(program, &env(path)).map(|e| e.candidates);
        assert_eq!(candidates("sh", Some("/usr/bin:/bin")).unwrap(), ["/usr/bin/sh", "/bin/sh"]);
        assert_eq!(
            candidates("sh", Some("/bin::x")).unwrap(),
            ["/bin/sh", "sh", "x/sh"],
            "an empty entry: the workdir"
        );
        let default = candidates("sh", None).unwrap();
        assert_eq!((default.len(), default[0].as_str(), default[5].as_str()), (6, "/usr/local/sbin/sh", "/bin/sh"));
        assert_eq!(candidates("/opt/app/run", Some("/bin")).unwrap(), ["/opt/app/run"]);
        assert_eq!(candidates("bin/run", Some("/bin")).unwrap(), ["bin/run"], "relative, from the workdir");
        assert!(candidates("", None).unwrap_err().to_string().contains("`--entrypoint` is empty"));
        assert!(candidates("/a:b", None).unwrap_err().to_string().contains("holds a `:`"));
    }
}
