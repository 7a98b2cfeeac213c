"""The demo page of `gateway dev` in a real headless Chromium (Debian's chromium and chromium-driver, via Selenium).

Two tabs open the page; each is a device on the channel. They must see each other in the presence room, do an echo
round trip, and one receives a push notification that this script sends with an HTTP call to its push endpoint. One
click on the broadcast button publishes once to topic demo.broadcast, and both tabs show it. The first tab then leaves
the page while this script publishes again; back on the page it shows that one broadcast, replayed from the position
its client kept in sessionStorage, and not the first one again. Then the other tab closes and the first must see it go
offline; last, the first tab's edge is drained (SIGTERM) and the tab must move to the other edge and work there. A screenshot of the second tab, taken when it shows
all of that, is saved to --screenshot. Prints one JSON line of what it saw; exits 1 with the reason otherwise.

Run by Tests/IntegrationTests/DemoPageTests.swift against a `gateway dev` it starts.
"""
import argparse
import json
import os
import secrets
import signal
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait


def browser(chromium, driver):
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1360,1000", "--disable-background-timer-throttling",
                 "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


def wait(driver, seconds, what, condition):
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.1,
                             ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: condition(d))
    except TimeoutException:
        raise AssertionError(f"timed out after {seconds} s waiting for {what}")


def text(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def presence_of(driver, device):
    """(online, status) of `device` in this tab's presence list, or None if it is not listed."""
    # Read in one script call: the page re-renders the list on every change, so element handles go stale.
    found = driver.execute_script(
        "const li = [...document.querySelectorAll('#presence li')].find(e => e.dataset.device === arguments[0]);"
        "return li ? [li.dataset.online, li.dataset.status] : null;", device)
    return None if found is None else (found[0] == "true", found[1])


def broadcasts(driver):
    """{text: position} of the broadcasts this tab shows (gaps have no text)."""
    found = driver.execute_script(
        "return [...document.querySelectorAll('#broadcasts li')].filter(e => e.dataset.text !== undefined)"
        ".map(e => [e.dataset.text, e.dataset.pos]);")
    return dict(found)


def subscribed_to_broadcast(driver):
    return driver.find_element(By.ID, "broadcast-card").get_attribute("data-subscribed") == "true"


def publish(config, text):
    """Publishes {text, sender} to topic demo.broadcast as an app server would; returns the answer's position."""
    request = urllib.request.Request(
        f"{config['push']}/v1/topics/demo.broadcast", method="POST",
        data=json.dumps({"text": text, "sender": "the browser test"}).encode(),
        headers={"Authorization": f"Bearer {config['topicKey']}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        answer = json.load(response)
        assert response.status == 201, f"the topic endpoint answered {response.status}"
    assert answer["topic"] == "demo.broadcast", answer
    return answer["pos"]


def edge_pid(dev_pid, edge):
    """The pid of `gateway edge --id <edge>` among the descendants of `gateway dev`."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    frontier = [dev_pid]
    while frontier:
        pid = frontier.pop()
        for child in children.get(pid, []):
            try:
                with open(f"/proc/{child}/cmdline", "rb") as f:
                    args = f.read().split(b"\0")
            except OSError:
                continue
            if b"edge" in args and b"--id" in args and args[args.index(b"--id") + 1] == edge.encode():
                return child
            frontier.append(child)
    raise AssertionError(f"no process for {edge} under gateway dev ({dev_pid})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="the demo page, as `gateway dev` printed it")
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--driver", default="/usr/bin/chromedriver")
    parser.add_argument("--dev-pid", type=int, help="pid of `gateway dev`: drain tab A's edge at the end")
    args = parser.parse_args()

    # Stopped from outside (the Swift test's time limit), still quit the browser: chromedriver would outlive us.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    driver = browser(args.chromium, args.driver)
    seen = {}
    try:
        driver.get(args.url)
        tab_a = driver.current_window_handle
        wait(driver, 30, "tab A to connect", lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "connected")
        device_a = text(driver, "device")

        driver.switch_to.new_window("tab")
        tab_b = driver.current_window_handle
        driver.get(args.url)
        wait(driver, 30, "tab B to connect", lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "connected")
        device_b = text(driver, "device")
        assert device_a != device_b, f"both tabs are {device_a}"
        seen["devices"] = [device_a, device_b]

        # Presence: each tab lists the other as online.
        wait(driver, 15, f"tab B to see {device_a} online", lambda d: presence_of(d, device_a) == (True, "available"))
        driver.switch_to.window(tab_a)
        wait(driver, 15, f"tab A to see {device_b} online", lambda d: presence_of(d, device_b) == (True, "available"))

        # A status change in tab A reaches tab B.
        Select(driver.find_element(By.ID, "my-status")).select_by_visible_text("away")
        driver.switch_to.window(tab_b)
        wait(driver, 15, f"tab B to see {device_a} away", lambda d: presence_of(d, device_a) == (True, "away"))
        seen["status_change"] = "away"

        # Echo: a round trip from tab B.
        driver.find_element(By.ID, "echo-text").clear()
        driver.find_element(By.ID, "echo-text").send_keys("hello from the browser test")
        driver.find_element(By.ID, "echo-send").click()
        result = wait(driver, 15, "the echo reply", lambda d: d.find_element(By.ID, "echo-result").get_attribute("data-rtt"))
        assert driver.find_element(By.ID, "echo-result").get_attribute("data-text") == "hello from the browser test"
        seen["echo_rtt_ms"] = float(result)

        # Push: tab B's subscription endpoint gets an HTTP POST from here, like an app server's.
        endpoint = wait(driver, 20, "tab B's push subscription",
                        lambda d: d.find_element(By.ID, "push-endpoint").text.startswith("http") and d.find_element(By.ID, "push-endpoint").text)
        note = f"hello from an app server {secrets.token_hex(3)}"
        request = urllib.request.Request(endpoint, data=note.encode(), method="POST",
                                         headers={"TTL": "60", "Urgency": "high", "Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 201, f"push answered {response.status}"
            seen["push_status"] = response.status
            seen["push_location"] = response.headers.get("Location")
        wait(driver, 15, "the push notification in tab B",
             lambda d: any(li.get_attribute("data-text") == note for li in d.find_elements(By.CSS_SELECTOR, "#notifications li")))
        seen["push_endpoint"] = endpoint

        # The page's own button calls the same endpoint from the browser (a cross-origin fetch: CORS).
        driver.find_element(By.ID, "push-send").click()
        wait(driver, 15, "the page's own push to answer 201", lambda d: text(d, "push-status").startswith("POST 201"))
        wait(driver, 15, "the page's own push to arrive",
             lambda d: any(li.get_attribute("data-text") == "a push notification" for li in d.find_elements(By.CSS_SELECTOR, "#notifications li")))
        seen["push_from_page"] = text(driver, "push-status")

        # Broadcast: one click in tab B publishes once to topic demo.broadcast, and both tabs show it. Subscribing
        # without a position starts with new messages, so both must be subscribed before the click.
        for handle in (tab_a, tab_b):
            driver.switch_to.window(handle)
            wait(driver, 15, "the tab to subscribe to demo.broadcast", subscribed_to_broadcast)
        first = f"to every tab {secrets.token_hex(3)}"
        driver.find_element(By.ID, "broadcast-text").clear()
        driver.find_element(By.ID, "broadcast-text").send_keys(first)
        driver.find_element(By.ID, "broadcast-send").click()
        wait(driver, 15, "the broadcast's POST to answer 201",
             lambda d: d.find_element(By.ID, "broadcast-result").get_attribute("data-status") == "201")
        first_pos = wait(driver, 15, "the broadcast in tab B", lambda d: broadcasts(d).get(first))
        driver.switch_to.window(tab_a)
        assert wait(driver, 15, "the broadcast in tab A", lambda d: broadcasts(d).get(first)) == first_pos
        seen["broadcast_pos"] = first_pos
        driver.switch_to.window(tab_b)

        # The screenshot: tab B connected, with tab A in its presence list, an echo round trip, the notification and
        # the broadcast.
        time.sleep(0.3)
        driver.save_screenshot(args.screenshot)
        seen["screenshot"] = args.screenshot

        # Replay: tab A leaves the page (its WebSocket closes) while an app server publishes; back on the page, the
        # client subscribes with the position it kept in sessionStorage and gets exactly the broadcast it missed.
        with urllib.request.urlopen(args.url.rstrip("/") + "/demo/config", timeout=10) as response:
            config = json.load(response)
        driver.switch_to.window(tab_a)
        driver.get("about:blank")
        missed = f"while tab A was away {secrets.token_hex(3)}"
        missed_pos = publish(config, missed)
        driver.get(args.url)
        wait(driver, 30, "tab A to connect again", lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "connected")
        assert text(driver, "device") == device_a, "tab A kept its device id"
        assert wait(driver, 15, "tab A to get the broadcast it missed", lambda d: broadcasts(d).get(missed)) == missed_pos
        wait(driver, 5, "tab A's subscription", subscribed_to_broadcast)
        status = text(driver, "broadcast-status")
        assert status == f"subscribed, resumed after position {first_pos}", status
        time.sleep(0.5)  # a repeat of the first broadcast would come right after the replay
        assert broadcasts(driver) == {missed: missed_pos}, f"tab A shows {broadcasts(driver)} after coming back"
        seen["replayed_after_reload"] = missed_pos
        driver.switch_to.window(tab_b)
        assert wait(driver, 15, "tab B to get the second broadcast live", lambda d: broadcasts(d).get(missed)) == missed_pos

        # Closing tab B ends its connection: tab A sees it go offline.
        driver.close()
        driver.switch_to.window(tab_a)
        started = time.monotonic()
        wait(driver, 15, f"tab A to see {device_b} offline", lambda d: presence_of(d, device_b) == (False, "offline"))
        seen["offline_after_close_s"] = round(time.monotonic() - started, 2)

        # Draining tab A's edge (SIGTERM, as a deploy does): the edge sends `reconnect` and closes with 4005; the client
        # waits the delay, moves to the other edge, and the page works there.
        if args.dev_pid:
            edge = text(driver, "where").split()[1].rstrip(",")
            pid = edge_pid(args.dev_pid, edge)
            os.kill(pid, signal.SIGTERM)
            started = time.monotonic()
            wait(driver, 30, f"tab A to leave {edge} and connect to another edge",
                 lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "connected"
                 and not text(d, "where").startswith(f"on {edge},"))
            seen["drained_edge"] = edge
            seen["reconnected_to"] = text(driver, "where").split()[1].rstrip(",")
            seen["reconnect_after_drain_s"] = round(time.monotonic() - started, 2)
            driver.find_element(By.ID, "echo-text").clear()
            driver.find_element(By.ID, "echo-text").send_keys("after the drain")
            driver.find_element(By.ID, "echo-send").click()
            wait(driver, 15, "an echo round trip on the new edge",
                 lambda d: d.find_element(By.ID, "echo-result").get_attribute("data-text") == "after the drain")
            seen["log_after_drain"] = text(driver, "log").splitlines()[:4]
        print(json.dumps({"ok": True, **seen}), flush=True)
    except Exception as failure:  # any failure, with what the page showed
        try:
            driver.save_screenshot(args.screenshot.replace(".png", "-failure.png"))
            log = driver.find_element(By.ID, "log").text
        except Exception:
            log = "(no page log)"
        print(json.dumps({"ok": False, "failure": f"{type(failure).__name__}: {failure}", "seen": seen, "page_log": log}), flush=True)
        sys.exit(1)
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
