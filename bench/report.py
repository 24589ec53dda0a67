"""Writing a run down: the raw figures as JSON, the medians and targets as a Markdown table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .summary import FIGURES

JSON_NAME = "latest.json"
MARKDOWN_NAME = "latest.md"
_LABELS = {figure.key: (figure.label, figure.unit) for figure in FIGURES}


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit == "fraction":
        return f"{value:.1%}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def _met(met: bool | None) -> str:
    return {True: "yes", False: "**no**", None: "—"}[met]


ERA_LABELS = {"legacy": "handshake-era client", "2026-07-28": "2026-07-28 client"}


def _cell_title(cell: str) -> str:
    parts = dict(part.split("=", 1) for part in cell.split(","))
    title = f"{parts['front']} front, {parts['upstream']} upstreams"
    era = parts.get("client")
    return f"{title}, {ERA_LABELS.get(era, era)}" if era else title


def _targets_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| target | setup | value | limit | met |", "|---|---|---:|---:|:---:|"]
    for row in rows:
        setup = "chat service" if row["cell"] == "chat" else _cell_title(row["cell"])
        lines.append(f"| {row['target']} | {setup} | {_number(row['value'])} | {row['limit']:g} | {_met(row['met'])} |")
    return lines


def _cell_table(sides: dict[str, Any]) -> list[str]:
    """One row per figure: direct, the proxy and its ratio, then each peer and its ratio ("—"
    where a peer has no figure; the reason is listed under the table)."""
    peers: dict[str, Any] = sides.get("peers", {})
    header = "| figure | unit | direct | proxy | proxy/direct |"
    header += "".join(f" {name} | {name}/direct |" for name in peers)
    lines = [header, "|---|---|---:|---:|---:|" + "---:|---:|" * len(peers)]
    for key in sides["proxy"]:
        label, unit = _LABELS.get(key, (key, ""))
        direct, proxy, ratio = sides["direct"].get(key), sides["proxy"].get(key), sides["ratio"].get(key)
        row = f"| {label} | {unit} | {_number(direct, unit)} | {_number(proxy, unit)} | {_ratio(ratio)} |"
        for peer in peers.values():
            row += f" {_number(peer['figures'].get(key), unit)} | {_ratio(peer['ratio'].get(key))} |"
        lines.append(row)
    gaps = [f"- {name}: {peer['gap']}" for name, peer in peers.items() if peer.get("gap")]
    return lines + (["", "Peers without figures here:", "", *gaps] if gaps else [])


def _chat_lines(chat: dict[str, Any]) -> list[str]:
    if chat.get("gap"):
        return [f"Not measured: {chat['gap']}"]
    upstreams = chat.get("upstreams_behind_proxy")
    return [
        "| figure | unit | single mode | multi mode | multi/single |",
        "|---|---|---:|---:|---:|",
        f"| chat request p50, {upstreams} upstreams behind the proxy | ms | {_number(chat.get('single_p50_ms'))} "
        f"| {_number(chat.get('multi_p50_ms'))} | {_ratio(chat.get('ratio'))} |",
        f"| chat request p50, only the single-mode server behind the proxy | ms | "
        f"{_number(chat.get('single_p50_ms'))} | {_number(chat.get('multi_one_p50_ms'))} "
        f"| {_ratio(chat.get('ratio_one'))} |",
    ]


def _machine_lines(machine: dict[str, Any]) -> list[str]:
    packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items() if version)
    return [
        f"- CPU: {machine['cpu']} ({machine['cpus']} logical CPUs), memory {machine['memory_gib']} GiB",
        f"- OS: {machine['os']}; Python {machine['python']} ({machine['implementation']})",
        f"- load average (1/5/15 min) at start {machine['load_average_at_start']}, "
        f"at end {machine.get('load_average_at_end')}",
        f"- commit {machine['commit']}" + (" with uncommitted changes" if machine.get("uncommitted_changes") else ""),
        f"- packages: {packages}",
    ]


def _peer_versions(result: dict[str, Any]) -> str:
    peers: dict[str, str] = result.get("peers", {})
    return ", ".join(f"{name} {version}" for name, version in peers.items()) or "none"


def render_markdown(result: dict[str, Any]) -> str:
    """The run as Markdown: context, targets, then one table per setup."""
    plan = result["plan"]
    lines = [
        f"# Benchmark: proxy and peers against direct ({result['mode']} mode)",
        "",
        f"Run {result['started_at']}, {result['duration_s']:.0f} s, {plan['repetitions']} repetition(s); "
        f"{plan['sequential_calls']} sequential calls, {plan['window_seconds']:g} s throughput windows, "
        f"{plan['upstream_count']} upstreams behind the proxy. Medians over repetitions; a ratio is the "
        "median of per-repetition proxy/direct ratios. The direct client speaks the same transport as "
        "the proxy's front, and the same era as the proxy's client. Peers (their CPU is their own "
        f"process's): {_peer_versions(result)}.",
        "",
    ]
    if result["mode"] == "quick":
        lines += ["_Quick mode keeps the suite working; its figures are not meaningful._", ""]
    lines += ["## Machine", "", *_machine_lines(result["machine"]), "", "## Targets", ""]
    lines += _targets_table(result["targets"])
    for cell, sides in result["summary"].items():
        lines += ["", f"## {_cell_title(cell)}", "", *_cell_table(sides)]
    lines += ["", "## Chat service: single mode against multi mode", "", *_chat_lines(result["chat"]), ""]
    return "\n".join(lines)


def write_report(result: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """Write latest.json and latest.md into `folder`; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / JSON_NAME
    markdown_path = folder / MARKDOWN_NAME
    json_path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    markdown_path.write_text(render_markdown(result), encoding="utf-8")
    return json_path, markdown_path


def emit_table(title: str, header: str, rows: list[str], out: Path | None) -> None:
    """Print a Markdown table (header and separator in `header`, then `rows`), and write it to `out`
    under `title` when given: how the side benchmarks (`upstream_count`, `soak`) report."""
    table = "\n".join([header, *rows])
    print(table)
    if out is not None:
        out.write_text(f"# {title}\n\n{table}\n", encoding="utf-8")
