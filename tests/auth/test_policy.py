"""The authorization rules, one by one (auth.policy)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from modelport.auth import policy
from modelport.auth.config import LOCAL_PRINCIPAL, Principal
from modelport.catalog.domain import Audience, ModuleRecord, Visibility
from modelport.errors import Forbidden, NotFound
from modelport.jobs.domain import Job, JobKind

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def person(
    subject: str, *roles: str, groups: tuple[str, ...] = (), scopes: set[str] | None = None
) -> Principal:
    return Principal(
        subject=subject,
        issuer="test",
        roles=frozenset(roles),
        groups=groups,
        scopes=frozenset(scopes) if scopes is not None else None,
    )


def module(
    visibility: Visibility, groups: list[str] | None = None, owner: str = "test|ada"
) -> ModuleRecord:
    return ModuleRecord(
        name="m",
        title="M",
        summary="m",
        owner=owner,
        visibility=visibility,
        groups=groups or [],
        created_at=NOW,
        updated_at=NOW,
    )


ADA = person("ada", "publisher", "trainer", "user")
BOB = person("bob", "publisher", "user", groups=("lab",))
ROOT = person("root", "admin")


def test_module_visibility() -> None:
    public, group, private = (
        module(Visibility.PUBLIC),
        module(Visibility.GROUP, ["lab"]),
        module(Visibility.PRIVATE),
    )
    eve = person("eve", "user", groups=("other",))
    assert [policy.can_see_module(eve, m) for m in (public, group, private)] == [True, False, False]
    assert [policy.can_see_module(BOB, m) for m in (public, group, private)] == [True, True, False]
    for everything in (ADA, ROOT, LOCAL_PRINCIPAL):
        assert all(policy.can_see_module(everything, m) for m in (public, group, private))
    with pytest.raises(NotFound, match="module 'm' not found"):
        policy.check_see_module(eve, private)
    read_only_admin = person("root", "admin", scopes={"read"})
    assert not policy.can_see_module(read_only_admin, private)


def test_catalog_audience_is_none_for_admins_only() -> None:
    assert policy.catalog_audience(ROOT) is None
    assert policy.catalog_audience(LOCAL_PRINCIPAL) is None
    assert policy.catalog_audience(BOB) == Audience("test|bob", ("lab",))


def test_publishing_and_managing_modules() -> None:
    policy.check_publish(ADA)
    with pytest.raises(Forbidden, match="'publisher' role"):
        policy.check_publish(person("eve", "user"))
    with pytest.raises(Forbidden, match="'publish' scope"):
        policy.check_publish(person("ada", "publisher", scopes={"read"}))
    public = module(Visibility.PUBLIC)
    policy.check_manage_module(ADA, public)
    policy.check_manage_module(ROOT, public)
    with pytest.raises(Forbidden, match="belongs to someone else"):
        policy.check_manage_module(BOB, public)
    with pytest.raises(NotFound):
        policy.check_manage_module(BOB, module(Visibility.PRIVATE))
    assert policy.expected_owner(ADA) == "test|ada"  # identities are (issuer, subject)
    assert policy.expected_owner(ROOT) is None


def test_the_same_subject_of_another_issuer_owns_nothing() -> None:
    # Two issuers may hand out the same subject: ownership is the (issuer, subject) pair.
    impostor = Principal(subject="ada", issuer="elsewhere", roles=frozenset({"publisher", "user"}))
    private = module(Visibility.PRIVATE)
    assert not policy.can_see_module(impostor, private)
    with pytest.raises(NotFound):
        policy.check_manage_module(impostor, private)
    assert not policy.can_see_job(impostor, Job(model="m", model_spec="x:Y", owner="test|ada"))
    # and an owner recorded as a bare subject (before identities had issuers): admins only
    legacy = module(Visibility.PRIVATE, owner="ada")
    assert not policy.can_see_module(ADA, legacy)
    assert policy.can_see_module(ROOT, legacy)


def test_calling_a_module() -> None:
    policy.check_call(BOB, module(Visibility.GROUP, ["lab"]))
    policy.check_call(BOB)
    with pytest.raises(NotFound):
        policy.check_call(BOB, module(Visibility.PRIVATE))
    with pytest.raises(Forbidden, match="'predict' scope"):
        policy.check_call(person("bob", "user", scopes={"read"}), module(Visibility.PUBLIC))
    with pytest.raises(Forbidden, match="'user' role"):
        policy.check_call(person("bob"), module(Visibility.PUBLIC))


def test_jobs_belong_to_their_owner() -> None:
    job = Job(model="m", model_spec="x:Y", owner="test|ada")
    policy.check_train(ADA)
    with pytest.raises(Forbidden, match="'trainer' role"):
        policy.check_train(BOB)
    assert policy.can_see_job(ADA, job)
    assert policy.can_see_job(ROOT, job)
    assert not policy.can_see_job(BOB, job)
    assert not policy.can_see_job(BOB, Job(model="m", model_spec="x:Y"))  # no owner: admins only
    with pytest.raises(NotFound, match=f"job '{job.id}' not found"):
        policy.check_cancel_job(BOB, job)
    with pytest.raises(Forbidden, match="'train' scope"):
        policy.check_cancel_job(person("ada", "trainer", scopes={"read"}), job)
    assert policy.jobs_owner_filter(BOB, None) == (True, "test|bob")
    assert policy.jobs_owner_filter(BOB, "test|ada") == (False, "test|ada")
    assert policy.jobs_owner_filter(ROOT, None) == (True, None)
    assert policy.jobs_owner_filter(ROOT, "ada") == (True, "ada")


def test_a_notebook_opens_for_its_owner_only_admins_included() -> None:
    notebook = Job(kind=JobKind.NOTEBOOK, model="-", model_spec="jupyterlab", owner="test|ada")
    policy.check_open_notebook(ADA, notebook.id, notebook.owner)
    for other in (BOB, ROOT):  # an admin sees and stops it as a job, but does not open it
        with pytest.raises(NotFound, match=f"notebook '{notebook.id}' not found"):
            policy.check_open_notebook(other, notebook.id, notebook.owner)
    with pytest.raises(Forbidden, match="'train' scope"):
        policy.check_open_notebook(
            person("ada", "trainer", scopes={"read"}), notebook.id, "test|ada"
        )
    with pytest.raises(NotFound):  # nobody's: nobody's to open
        policy.check_open_notebook(ROOT, notebook.id, None)
