"""The web UI in a real browser against the real stack: proxy, example servers, chat service, scripted model."""

from __future__ import annotations

import json
import re

from playwright.sync_api import Locator, Page, expect

from tests.chat_api.llm_script import Call, Calls, Reply, ScriptedLLM, Seen

from .conftest import Shooter
from .stack import Stack

REPORT_REPO = "acme/shop-analytics"
REPORT_PATH = "queries/top_customers.sql"
SERVER_DOWN_WITHIN_MS = 10_000
"""How long the servers panel may take to show a stopped server as down (the proxy checks every second)."""
ANSWER_WITHIN_MS = 30_000


def runnable_sql(file_text: str) -> str:
    """The statement of a saved .sql report: comment lines and the final semicolon removed."""
    lines = [line for line in file_text.splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(lines).strip().rstrip(";")


def top_customer(result_text: str) -> str:
    """The first row's `name` from execute_query's structured result (sent to the model as JSON)."""
    data = json.loads(result_text)
    return str(data["rows"][0][data["columns"].index("name")])


def ask(page: Page, message: str) -> None:
    box = page.get_by_label("Message", exact=True)
    box.fill(message)
    box.press("Enter")


def server_card(page: Page, name: str) -> Locator:
    return page.locator(f'.server[data-server="{name}"]')


def test_a_question_that_needs_two_servers_shows_both_in_the_metadata(
    page: Page, app_url: str, llm: ScriptedLLM, shoot: Shooter
) -> None:
    def run_the_report(seen: Seen) -> Calls:
        return Calls(Call("execute_query", {"sql": runnable_sql(seen.tool_results[0])}))

    def summarise(seen: Seen) -> Reply:
        return Reply(
            f"The saved report ran against the shop database. The top customer is {top_customer(seen.tool_results[0])}."
        )

    llm.script(
        Calls(Call("get_file", {"repo": REPORT_REPO, "path": REPORT_PATH}), text="I'll fetch the saved report first."),
        run_the_report,
        summarise,
    )
    page.goto(app_url)
    expect(server_card(page, "database")).to_have_attribute("data-state", "ready")
    expect(page.get_by_role("list", name="Tools").get_by_role("button")).to_have_count(10)

    ask(page, "Run the top customers report from the shop-analytics repository.")

    response = page.locator(".message-response").last
    expect(response).to_contain_text("The top customer is", timeout=ANSWER_WITHIN_MS)
    metadata = page.locator(".message-metadata").last
    expect(metadata).to_contain_text("Mode multi")
    expect(metadata).to_contain_text("2 tools called")
    expect(metadata).to_contain_text(re.compile(r"Servers\s+database, github|Servers\s+github, database"))
    cards = page.locator(".tool-card")
    expect(cards).to_have_count(2)
    expect(cards.nth(0)).to_contain_text("github")
    expect(cards.nth(1)).to_contain_text("database")
    expect(cards.nth(1)).to_contain_text("Done")
    expect(page.locator(".message-note")).to_have_text("I'll fetch the saved report first.")
    # The message box is ready for the next question, and the user's question is in the log.
    expect(page.locator(".message-user")).to_have_text(
        "Run the top customers report from the shop-analytics repository."
    )
    expect(page.get_by_label("Message", exact=True)).to_have_value("")

    cards.nth(1).get_by_text("Arguments", exact=True).click()
    expect(cards.nth(1).locator(".args")).to_contain_text("ORDER BY revenue DESC")
    shoot(page, "multi-server-chat", docs_name="ui")


def test_a_tool_runs_from_the_tools_browser_without_a_model(page: Page, no_llm_url: str, shoot: Shooter) -> None:
    page.goto(no_llm_url)
    expect(page.locator('[data-banner="no-llm"]')).to_contain_text("No language model is configured")

    page.get_by_label("Search tools").fill("execute_query")
    tools = page.get_by_role("list", name="Tools").get_by_role("button")
    expect(tools).to_have_count(1)
    tools.first.click()

    expect(page.get_by_role("heading", name="execute_query")).to_be_visible()
    page.get_by_label(re.compile(r"^sql")).fill("SELECT name, city FROM customers ORDER BY id LIMIT 3")
    page.get_by_label(re.compile(r"^limit")).fill("2")
    page.get_by_role("button", name="Run tool").click()

    result = page.get_by_role("region", name="Result of execute_query")
    expect(result).to_contain_text("database")
    expect(result).to_contain_text("Amara Okafor")
    expect(result).to_contain_text("2 rows shown")
    shoot(page, "tools-browser-no-llm", docs_name="tools-browser")
    result.get_by_text("Structured content (JSON)").click()
    expect(result.locator("pre[data-kind=json]")).to_contain_text('"row_count": 2')

    # A bad argument is refused by the form itself, next to the field.
    page.get_by_label(re.compile(r"^limit")).fill("2.5")
    page.get_by_role("button", name="Run tool").click()
    expect(page.get_by_text("Enter a whole number.")).to_be_visible()
    expect(page.get_by_label(re.compile(r"^limit"))).to_have_attribute("aria-invalid", "true")

    # Chat says plainly that no model is configured.
    ask(page, "hello")
    expect(page.locator(".message-response--notice")).to_be_visible(timeout=ANSWER_WITHIN_MS)
    expect(page.locator(".message-metadata").last).to_contain_text("No servers used")


def test_a_stopped_server_shows_down_and_questions_for_the_others_still_answer(
    page: Page, own_stack: Stack, llm: ScriptedLLM, shoot: Shooter
) -> None:
    page.goto(own_stack.chat_url("chat_api"))
    github = server_card(page, "github")
    expect(github).to_have_attribute("data-state", "ready")
    expect(page.locator('[data-banner="mcp-down"]')).to_have_count(0)

    own_stack.procs["github"].stop()

    expect(github).to_have_attribute("data-state", "down", timeout=SERVER_DOWN_WITHIN_MS)
    expect(github.locator(".server__error")).not_to_be_empty()
    expect(server_card(page, "database")).to_have_attribute("data-state", "ready")
    expect(page.locator(".overview").get_by_test_id("health")).to_have_text("Degraded")

    llm.script(
        Calls(Call("list_tables")),
        lambda seen: Reply(
            f"The shop database has these tables: {', '.join(json.loads(seen.tool_results[0])['tables'])}."
        ),
    )
    ask(page, "Which tables does the shop database have?")
    expect(page.locator(".message-response").last).to_contain_text("customers", timeout=ANSWER_WITHIN_MS)
    metadata = page.locator(".message-metadata").last
    expect(metadata).to_contain_text("Server database")
    expect(metadata).not_to_contain_text("github")
    shoot(page, "server-down", docs_name="server-down")


def test_the_progress_bar_of_a_long_tool_moves(page: Page, app_url: str, llm: ScriptedLLM, shoot: Shooter) -> None:
    steps = 6
    llm.script(
        Calls(Call("long_job", {"steps": steps, "step_seconds": 0.7})),
        lambda seen: Reply(f"Done: {seen.tool_results[0]}."),
    )
    page.goto(app_url)
    # Every value the bar shows is recorded, so the test sees each step however fast it passes.
    page.evaluate(
        """() => {
            window.progressSeen = [];
            new MutationObserver(() => {
                const bar = document.querySelector('.tool-card [role="progressbar"]');
                const value = bar && bar.getAttribute('aria-valuenow');
                if (value !== null && value !== undefined && window.progressSeen.at(-1) !== value)
                    window.progressSeen.push(value);
            }).observe(document.body, {subtree: true, childList: true, attributes: true});
        }"""
    )
    ask(page, "Run the long job and tell me when it is done.")

    bar = page.locator(".tool-card").get_by_role("progressbar", name="Progress of jobs__long_job")
    expect(bar).to_have_attribute("aria-valuenow", "3", timeout=ANSWER_WITHIN_MS)
    expect(bar).to_have_attribute("aria-valuemax", str(steps))
    shoot(page, "long-tool-progress", docs_name="progress")

    expect(page.locator(".message-response").last).to_contain_text(
        "job finished after 6 steps", timeout=ANSWER_WITHIN_MS
    )
    expect(page.locator(".tool-card")).to_contain_text("Done")
    expect(bar).to_have_count(0)
    seen = page.evaluate("() => window.progressSeen")
    assert seen[0] in {"1", "2"}
    assert [int(v) for v in seen] == sorted(int(v) for v in seen)
    assert len(seen) >= 4
