"""Compare (issue 18): the sortable table of the territories in view (value, rank, gap to
the MEL's published figure) with its CSV export, and the change between two millésimes
computed only where the figure is published in both. Nothing requested from another
host, no console error."""
from __future__ import annotations

import csv
import io


def open_map(page, url):
    page.goto(url)
    page.wait_for_function("window.carteRendu !== undefined", timeout=15000)
    page.wait_for_load_state("networkidle")


def table(page):
    page.wait_for_function("document.querySelectorAll('#tableau tbody tr').length > 0", timeout=10000)
    return page.evaluate("""() => [...document.querySelectorAll('#tableau tbody tr')].map(tr => ({
        code: tr.dataset.code, name: tr.querySelector('th').innerText,
        cells: [...tr.querySelectorAll('td')].map(td => td.innerText)}))""")


def number(text):
    return float(text.replace("\u202f", "").replace("\u00a0", "").replace(" ", "").replace(",", ".")
                 .replace("+", ""))


def test_table_of_territories_sorted_with_mel_and_csv(browser_page, live_server, http, tmp_path):
    page = browser_page
    open_map(page, f"{live_server}/carte")
    rows = table(page)
    data = http.get(f"{live_server}/carte/api/couches/parc_communes",
                    params={"zoom": 11, "champs": "nb_logements"}).json()
    year = data["millesime"]
    published = {f["properties"]["code"]: f["properties"]["nb_logements"] for f in data["features"]}
    assert 0 < len(rows) <= 95
    ranked = sorted((v for v in published.values() if v is not None), reverse=True)
    first = min(rows, key=lambda r: int(r["cells"][1]) if r["cells"][1] != "—" else 10**6)
    assert number(first["cells"][0]) == published[first["code"]]
    assert int(first["cells"][1]) == ranked.index(published[first["code"]]) + 1
    mel = http.get(f"{live_server}/collections/parc_mel/items",
                   params={"f": "json", "datetime": year}).json()["features"][0]["properties"]
    # a count: the MEL reference is its published total over the 95 communes
    assert "moyenne MEL par territoire" in page.locator("#tableau caption").inner_text()
    average = round(mel["nb_logements"] / len(data["features"]), 2)
    for r in rows:
        if r["cells"][2] != "—":
            assert abs(number(r["cells"][2]) - (published[r["code"]] - average)) < 0.051   # 1 decimal shown
    page.click("#tableau button[data-tri=value]")
    page.click("#tableau button[data-tri=value]")
    assert page.get_attribute("#tableau th:nth-child(2)", "aria-sort") == "descending"
    values = [number(r["cells"][0]) for r in table(page) if r["cells"][1] != "—"]
    assert values == sorted(values, reverse=True)
    with page.expect_download() as info:
        page.click("#tableau-export")
    path = tmp_path / "t.csv"
    info.value.save_as(path)
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert "Source : Portail cartographique" in lines[0]
    body = list(csv.reader(io.StringIO("\n".join(lines[2:])), delimiter=";"))
    assert body[0] == ["code", "territoire", "valeur", "statut", "rang", "ecart_mel"]
    assert len(body) - 1 == len(rows)
    assert page.outside_requests == [] and page.console_errors == []


def test_rate_compared_with_the_mel_figure(browser_page, live_server, http):
    page = browser_page
    open_map(page, f"{live_server}/carte#theme=parc&indicateur=taux_vacance")
    rows = table(page)
    year = page.input_value("#millesime")
    mel = http.get(f"{live_server}/collections/parc_mel/items",
                   params={"f": "json", "datetime": year}).json()["features"][0]["properties"]
    caption = page.locator("#tableau caption").inner_text()
    assert "MEL : " in caption and "par territoire" not in caption
    data = http.get(f"{live_server}/carte/api/couches/parc_communes",
                    params={"zoom": 11, "champs": "taux_vacance", "millesime": year}).json()
    published = {f["properties"]["code"]: f["properties"]["taux_vacance"] for f in data["features"]}
    checked = 0
    for r in rows:
        if r["cells"][2] != "—":
            checked += 1
            assert abs(number(r["cells"][2]) - (published[r["code"]] - mel["taux_vacance"])) < 0.051
    assert checked
    assert page.outside_requests == [] and page.console_errors == []


def test_change_only_where_published_in_both(browser_page, live_server, http):
    page = browser_page
    years = http.get(f"{live_server}/carte/api/catalogue").json()["millesimes"]["parc_iris"]
    now, then = years[0], years[-1]
    open_map(page, f"{live_server}/carte#theme=parc&indicateur=taux_vacance&millesime={now}"
                   f"&echelle=iris&z=11&lat=50.64&lon=3.08")
    page.select_option("#depuis", str(then))
    page.wait_for_function("document.querySelector('#legende').innerText.includes('évolution')",
                           timeout=15000)
    page.wait_for_load_state("networkidle")
    assert "points" in page.locator("#legende").inner_text()

    def values(year):
        data = http.get(f"{live_server}/carte/api/couches/parc_iris",
                        params={"zoom": 13, "champs": "taux_vacance", "millesime": year}).json()
        return {f["properties"]["code"]: f["properties"]["taux_vacance"] for f in data["features"]}
    a, b = values(now), values(then)
    rows = table(page)
    assert rows
    both = hidden = 0
    for r in rows:
        if a.get(r["code"]) is not None and b.get(r["code"]) is not None:
            both += 1
            assert abs(number(r["cells"][0]) - (a[r["code"]] - b[r["code"]])) < 0.011, r
        else:
            hidden += 1
            assert r["cells"][1] == "—", r       # no change, no rank
            assert not any(ch.isdigit() for ch in r["cells"][0]), r
    assert both > 0
    assert f"depuis={then}" in page.url
    assert page.outside_requests == [] and page.console_errors == []
