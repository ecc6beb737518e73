"""The web client at ``/chat`` in headless Chromium (Playwright with the system's chromium):
two people in two browser contexts sign in, open the same room, see each other type and chat.

Needs ``/usr/bin/chromium`` (Debian's ``chromium`` package; CI installs it): skipped without
it on a laptop, a failure in CI.
"""

from __future__ import annotations

import shutil

import httpx
from playwright.async_api import Page, async_playwright, expect

from tests.chat.conftest import new_room
from tests.conftest import unavailable
from tests.fixtures.users import People, SignedInUser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


async def test_the_page_is_served_with_its_own_csp(client: httpx.AsyncClient) -> None:
    page = await client.get("/chat")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    script = await client.get("/chat/chat.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "new WebSocket" in script.text


async def _sign_in(page: Page, base: str, user: SignedInUser) -> None:
    await page.goto(f"{base}/chat")
    await page.fill("#identifier", user.email)
    await page.fill("#password", user.password)
    await page.click("#login button[type=submit]")
    await expect(page.locator("#status")).to_have_text("online", timeout=10_000)


async def test_two_people_chat_in_the_browser(
    server: str, client: httpx.AsyncClient, people: People
) -> None:
    if not shutil.which("chromium"):
        unavailable("chromium is not installed (apt-get install chromium)")
    ada, bob = await people(2)
    room = await new_room(client, ada, bob, name="lobby")
    base = server.replace("ws://", "http://")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            pages = []
            for user in (ada, bob):
                context = await browser.new_context()
                page = await context.new_page()
                await _sign_in(page, base, user)
                await page.click(f"button[data-room='{room['id']}']")
                pages.append(page)
            ada_page, bob_page = pages

            await bob_page.type("#body", "hello", delay=20)
            await expect(ada_page.locator("#typing")).to_contain_text(f"{bob.username} is typing")
            await bob_page.press("#body", "Enter")
            await expect(ada_page.locator("#messages li")).to_have_text(
                [f"{bob.username}hello"], timeout=10_000
            )
            await ada_page.fill("#body", "hi **bob**")
            await ada_page.press("#body", "Enter")
            for page in pages:
                await expect(page.locator("#messages li")).to_have_count(2)
            await expect(bob_page.locator("#messages li").nth(1).locator("strong")).to_have_text(
                "bob"
            )
        finally:
            await browser.close()
    history = (
        await client.get(f"/api/v1/chat/rooms/{room['id']}/messages", headers=ada.headers)
    ).json()
    assert [(m["seq"], m["body"]) for m in history["items"]] == [(1, "hello"), (2, "hi **bob**")]
