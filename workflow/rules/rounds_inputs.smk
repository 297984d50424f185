# Input, param and resource functions of the rounds' rules (rules/rounds.smk), and only theirs: they
# read the checkpoints' files. Kept apart from the rules, as `snakemake --lint` asks.

import itertools

round_file = L.round_file
done_file = L.done_file


def walk_rounds():
    """The proposal of every round with points, up to the last; asking for the next proposal makes
    Snakemake run the rounds before it (a checkpoint's get() raises until its file exists).
    """
    files = []
    for r in itertools.count():
        proposed = len(
            read_json(checkpoints.propose_round.get(round=r).output[0])["points"]
        )
        if proposed:
            files.append(round_file(r))
        if is_last(r, proposed, PLAN.total, PER_ROUND):
            return files


def round_size(wildcards):
    return round_size_of(int(wildcards.round), PLAN.total, PER_ROUND)


def round_start(wildcards):
    """Where round r's points begin in a grid or random sweep's planned list."""
    return int(wildcards.round) * PER_ROUND


def walk_rungs(r):
    """The rung tables of round r, up to the one after which no point trains further."""
    files = []
    for k in itertools.count():
        path = checkpoints.select_rung.get(round=r, rung=k).output[0]
        files.append(path)
        if read_json(path)["final"]:
            return files


def stage_records(rung_table):
    """The pack records of one rung."""
    record = read_json(rung_table)
    return [
        L.stage_record(record["round"], record["rung"], p["id"])
        for p in record["packs"]
    ]


def propose_inputs(wildcards):
    return {
        "spec": config["sweep"]["file"],
        "done": [done_file(r) for r in range(int(wildcards.round))],
    }


def rung_inputs(wildcards):
    r, k = int(wildcards.round), int(wildcards.rung)
    if k == 0:
        return {"round_file": round_file(r)}
    previous = checkpoints.select_rung.get(round=r, rung=k - 1).output[0]
    return {
        "round_file": round_file(r),
        "previous": previous,
        "stages": stage_records(previous),
        "done": [done_file(i) for i in range(r)],
    }


def finish_inputs(wildcards):
    rungs = walk_rungs(int(wildcards.round))
    return {
        "round_file": round_file(wildcards.round),
        "rungs": rungs,
        "stages": [s for f in rungs for s in stage_records(f)],
    }


def collect_inputs(wildcards):
    rounds = walk_rounds()
    done = [done_file(read_json(f)["round"]) for f in rounds]
    return {"rounds": rounds, "done": done}


def stage_pack(wildcards, input):
    """The stage's pack: its accelerator and its points' epochs, from the rung table."""
    record = read_json(input.rung)
    pack = next(p for p in record["packs"] if p["id"] == wildcards.pack)
    epochs = [t["epochs"] for t in record["train"] if t["pack"] == wildcards.pack]
    return pack["accelerator"], epochs


def stage_gpu(wildcards, input):
    return pack_gpu(stage_pack(wildcards, input)[0])


def stage_mem_mb(wildcards, input, attempt):
    """As a pack's of the same accelerator kind (an own program's runs: program.mem_mb)."""
    return pack_mem_mb(stage_pack(wildcards, input)[0])(
        *([wildcards, input, attempt] if not OWN else [wildcards, attempt])
    )


def stage_runtime(wildcards, input, attempt):
    """As a pack's, for the epochs its points train to in this stage (an own program's runs may take
    program.runtime each)."""
    epochs = stage_pack(wildcards, input)[1]
    if OWN:
        return R.program_runtime(len(epochs), PROGRAM_CFG["runtime"], attempt)
    return R.runtime_minutes(epochs, input.size_mb, attempt)


def stage_errors(wildcards):
    """Real errors recorded for the stage's points: a new one changes this parameter, so the stage runs
    again (its complete points are kept), as pack_errors does for a static sweep's packs.
    """
    table = L.rung_file(wildcards.round, wildcards.rung)
    if not os.path.exists(table):  # Snakemake may ask before the rung is selected
        return {}
    counts = {
        t["point"]: error_count(L.stage_dir(t["point"], t["epochs"]))
        for t in read_json(table)["train"]
        if t["pack"] == wildcards.pack
    }
    return {p: n for p, n in counts.items() if n}
