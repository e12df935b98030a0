"""The pages that look at finished training in a real browser: the Latent page's two clouds
(Z and prior samples) for the session's run, the Compare page's table for two models, and
the Runs page listing a run just trained."""
from __future__ import annotations

from .harness import (FIRST_START, chart_traces, compare_and_wait, exception_texts, expect, open_train,
                      sidebar_link, start_button, table_records, wait_app_idle, wait_until)

KARATE_NODES = 34
# Where the Z cloud's sixth point is drawn, in page pixels (plotly's own axis conversion).
Z_POINT_JS = """() => { const el = document.querySelector('.st-key-latent_scatter .js-plotly-plot');
    const t = el._fullData.find(t => t.name === 'Z: fake'), L = el._fullLayout, box = el.getBoundingClientRect();
    return {x: box.left + L._size.l + L.xaxis.d2p(t.x[5]), y: box.top + L._size.t + L.yaxis.d2p(t.y[5])}; }"""

TITLE_JS = """(key) => { const el = document.querySelector(`.st-key-${key} .js-plotly-plot`);
    return (el && el._fullLayout && el._fullLayout.title && el._fullLayout.title.text) || ''; }"""


def test_latent_page_draws_z_and_prior_samples_as_two_clouds(page, app_url, screenshot):
    open_train(page, app_url, "epochs=60")
    start_button(page).click()
    expect(page.get_by_role("heading", name="Test metrics").first).to_be_visible(timeout=FIRST_START * 1000)
    wait_app_idle(page)  # the run's end reruns the page: a link clicked meanwhile was once lost

    sidebar_link(page, "Latent space").click()
    expect(page.get_by_role("heading", name="Latent space", exact=True)).to_be_visible()
    expect(page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Source")).to_have_value(
        "Your run: ARGVA on karate")
    # The first UMAP in a server process compiles for a while; the page says so meanwhile.
    traces = wait_until(lambda: {t["name"]: t["points"] for t in chart_traces(page, "latent_scatter")
                                 if t["points"]}, 120, what="the latent scatter")
    assert traces == {"prior N(0, I): real": KARATE_NODES, "Z: fake": KARATE_NODES}, traces
    assert not exception_texts(page)
    screenshot(page, "latent-karate-argva")

    # Click a node: it is followed (ringed), with its neighbourhood and predicted links.
    wait_app_idle(page)
    point = page.evaluate(Z_POINT_JS)
    page.mouse.click(point["x"], point["y"])
    wait_until(lambda: any(t["name"] == "followed nodes" and t["points"] == 1
                           for t in chart_traces(page, "latent_scatter")), 60, what="the clicked node ringed")
    expect(page.get_by_text("Top predicted links")).to_be_visible(timeout=60_000)
    assert not exception_texts(page)

    # 3-D: the same clouds with a third axis, and UMAP replaces the PCA stand-in there too
    # (once the 3-D UMAP was asked of the 2-D picture process and PCA stayed for good).
    page.locator('[data-testid="stSidebar"]').get_by_text("3-D", exact=True).click()
    wait_until(lambda: "in 3-D (UMAP)" in page.evaluate(TITLE_JS, "latent_scatter_3d"), 180,
               what="the 3-D UMAP picture")
    deep = {t["name"]: t["points"] for t in chart_traces(page, "latent_scatter_3d") if t["points"]}
    assert deep["Z: fake"] == KARATE_NODES and deep["prior N(0, I): real"] == KARATE_NODES, deep
    assert not exception_texts(page)
    screenshot(page, "latent-karate-argva-3d")


def test_compare_page_trains_two_models_and_tabulates_them(page, app_url, screenshot):
    compare_and_wait(page, app_url, epochs=60)
    models = page.locator(".st-key-cmp_models")
    expect(models).to_contain_text("GAE")
    expect(models).to_contain_text("ARGVA")
    rows = wait_until(lambda: table_records(page), 30, what="the comparison table's rows")
    assert [row["model"] for row in rows] == ["GAE", "ARGVA"], rows
    assert all(row["AUC"] for row in rows), rows
    expect(page.get_by_text("What the tables say")).to_be_visible()
    expect(page.get_by_role("heading", name="How close Z is to N(0, I)")).to_be_visible()
    expect(page.get_by_text("Spread of Z in units of the prior's")).to_be_visible()
    assert not exception_texts(page)
    screenshot(page, "compare-gae-argva")


def test_runs_page_lists_the_run_just_trained(page, app_url, screenshot):
    open_train(page, app_url, "epochs=30&seed=7")
    start_button(page).click()
    # .first: when the run ends the live part and the full page both draw the caption, and for
    # a moment the old copy is still on screen
    caption = page.get_by_text("Run saved as").first
    expect(caption).to_be_visible(timeout=FIRST_START * 1000)
    wait_app_idle(page)
    run_id = caption.inner_text().split("Run saved as")[1].strip(" .`\n")

    sidebar_link(page, "Runs").click()
    expect(page.get_by_role("heading", name="Runs", exact=True)).to_be_visible()
    expect(page.get_by_text(run_id).filter(visible=True).first).to_be_visible()  # the newest run is shown
    expect(page.get_by_text("ARGVA on karate, seed 7")).to_be_visible()
    expect(page.get_by_text("finished: all 30 epochs")).to_be_visible()
    assert not exception_texts(page)
    screenshot(page, "runs")
