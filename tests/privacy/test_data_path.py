from __future__ import annotations

from labelop.annotations.services import tasks_assign
from labelop.permissions import Role
from labelop.projects.models import Membership
from labelop.storage.models import Encryption, StorageLocation
from tests.conftest import World, api_for, make_user
from tests.pages.test_pages import _signed_in
from tests.privacy.test_note import ANSWERS


def _path(world: World, who: str = "owner") -> dict:
    response = api_for(world.users[who]).get(f"/projects/{world.project.pk}/data-path")
    assert response.status_code == 200, response.content
    return {s["title"]: s["lines"] for s in response.json()["sections"]} | {
        "markdown": response.json()["markdown"]}


def test_it_follows_the_configuration(labeled: World, data_dir) -> None:
    before = _path(labeled)
    assert "New images are stored in local" in before["Where the images are"][0]
    assert "this LabelOp instance" in before["Where the images are"][0]
    people = " ".join(before["Who can see what"])
    assert "Owners (1): owner" in people
    assert "annotator (1 tasks)" in people
    assert "External (HTTP) model endpoints are forbidden" in " ".join(
        before["What may process them"])
    assert "Operating note: not written yet." in before[
        "Rules of this project (restricted profile)"]
    assert before["markdown"].startswith("# Data path: Scans")

    # Storage, people, work, policy and note change: so does the statement.
    StorageLocation.objects.create(name="vault", kind="local", encryption=Encryption.CUSTOMER,
                                   customer_key_source="env:VAULT_KEY",
                                   customer_key_fingerprint="ab" * 32,
                                   params={"path": str(data_dir / "vault")})
    labeled.project.storage_location = StorageLocation.objects.get(name="vault")
    labeled.project.save()
    Membership.objects.create(project=labeled.project, user=make_user("ada"),
                              role=Role.REVIEWER)
    tasks_assign(actor=labeled.actor("owner"), project=labeled.project,
                 annotators=["annotator"], count=2)
    owner = api_for(labeled.users["owner"])
    owner.call("PUT", f"/projects/{labeled.project.pk}/policy",
               {"controls": {"exports_with_originals": "never"}})
    owner.post(f"/projects/{labeled.project.pk}/note", ANSWERS)

    after = _path(labeled, "reviewer")
    assert api_for(labeled.users["annotator"]).get(
        f"/projects/{labeled.project.pk}/data-path").status_code == 403  # it names members
    assert "New images are stored in vault" in after["Where the images are"][0]
    assert "the customer" in after["Where the images are"][0]
    people = " ".join(after["Who can see what"])
    assert "Reviewers (2): ada, reviewer" in people
    assert "annotator (3 tasks)" in people
    assert after["What an export may contain"] == [
        "Exports carry redacted images or annotations only, never original images."]
    rules = after["Rules of this project (restricted profile)"]
    assert any("never (tightened by the owners)" in line for line in rules)
    assert "Operating note: version 1." in rules


def test_outsiders_do_not_get_it_and_the_page_shows_it(labeled: World) -> None:
    assert api_for(labeled.users["outsider"]).get(
        f"/projects/{labeled.project.pk}/data-path").status_code == 404
    page = _signed_in("reviewer").get(f"/projects/{labeled.project.pk}/data-path")
    assert "Who can see what" in page.content.decode()
    assert "# Data path: Scans" in page.content.decode()
