"""Who may do what: every authorization rule of modelport, in one place.

=========================  ==================================================================
action                     allowed when
=========================  ==================================================================
publish a new module       role ``publisher`` + scope ``publish``; the publisher owns it
                           (from a directory on the server: admins only)
publish a new version,     role ``publisher`` + scope ``publish``, and the caller owns the
alias, deprecate, change   module or is an admin (403 otherwise; 404 if they cannot even see it)
visibility, start, change,
promote, roll back or end
a rollout
train (submit, retry)      role ``trainer`` + scope ``train``; then the quota (auth.quotas)
call a module (predict)    role ``user`` + scope ``predict``, and the module is visible to them
see a module               admin, its owner, anyone for ``public``, members of one of its
                           ``groups`` for ``group`` (``private``: owner and admins only);
                           hidden modules are 404, never 403
see a job (get, logs,      its owner or an admin, with scope ``read`` or ``train``; anybody
metrics, events,           else gets 404 (a job's existence is not revealed)
artifacts, list)
cancel a job               as seeing it, plus scope ``train``
start a notebook           as train (a notebook is a job: same quota)
open a notebook            its owner only (admins too get 404), with scope ``train``: the
(``/notebooks/{id}/...``)  notebook runs code as its owner
use one's data area        role ``trainer``; scope ``read`` or ``train`` to list and download,
                           ``train`` to upload and delete; one's own area only (admins too)
=========================  ==================================================================

"Admin" is :attr:`Principal.is_admin`: the ``admin`` role *and* a credential allowing the
``admin`` scope (an admin's API token scoped to ``read`` acts as a plain user). In single-user
mode (auth off) everyone is the local admin, so every check passes.

Functions named ``check_*`` raise (Forbidden, or NotFound where existence must stay hidden);
``can_*`` answer a bool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from modelport.auth.config import Audience, Principal
from modelport.errors import Forbidden, NotFound

if TYPE_CHECKING:  # the job stack never loads the catalog for this
    from modelport.catalog.domain import ModuleRecord
    from modelport.jobs.domain import Job


def check_role(principal: Principal, role: str, scope: str) -> None:
    """Forbidden unless ``principal`` holds ``role`` and its credential allows ``scope``."""
    if not principal.has_role(role):
        raise Forbidden(f"this needs the '{role}' role, which your account does not have")
    if not principal.has_scope(scope):
        raise Forbidden(f"this API token lacks the '{scope}' scope")


# -- catalog ----------------------------------------------------------------------------------


def can_see_module(principal: Principal, module: ModuleRecord) -> bool:
    """Whether ``module`` is visible to ``principal``."""
    if principal.is_admin or (module.owner is not None and module.owner == principal.identity):
        return True
    if module.visibility == "public":
        return True
    if module.visibility == "group":
        return not set(module.groups).isdisjoint(principal.groups)
    return False


def check_see_module(principal: Principal, module: ModuleRecord) -> None:
    """NotFound (as for a missing module) unless ``module`` is visible to ``principal``."""
    if not can_see_module(principal, module):
        raise NotFound(f"module '{module.name}' not found")


def catalog_audience(principal: Principal) -> Audience | None:
    """The visibility filter for ``principal``'s catalog reads; None (no filter) for admins."""
    if principal.is_admin:
        return None
    return Audience(subject=principal.identity, groups=tuple(principal.groups))


def check_publish(principal: Principal) -> None:
    """Forbidden unless ``principal`` may publish at all (publisher + publish)."""
    check_role(principal, "publisher", "publish")


def check_publish_server_path(principal: Principal) -> None:
    """Forbidden unless ``principal`` may publish from a directory on the server (admins)."""
    check_publish(principal)
    if not principal.is_admin:
        raise Forbidden(
            "publishing from a directory on the server is for admins: publish from a git repository"
        )


def check_manage_module(principal: Principal, module: ModuleRecord) -> None:
    """May ``principal`` publish into, alias, deprecate or re-scope ``module``? Raise if not."""
    check_see_module(principal, module)
    check_publish(principal)
    if not (principal.is_admin or module.owner == principal.identity):
        raise Forbidden(
            f"module '{module.name}' belongs to someone else: only its owner or an admin may "
            "change it"
        )


def check_manage_rollout(principal: Principal, module: ModuleRecord) -> None:
    """May ``principal`` start, change, promote, roll back or end a rollout of ``module``'s
    aliases? As for the aliases themselves: its owner or an admin (``modelport.rollouts``)."""
    check_manage_module(principal, module)


def expected_owner(principal: Principal) -> str | None:
    """Whose modules ``principal`` may publish into: their own, or (None) any, for admins."""
    return None if principal.is_admin else principal.identity


def check_call(principal: Principal, module: ModuleRecord | None = None) -> None:
    """May ``principal`` call (predict with) ``module``? NotFound if hidden, else Forbidden."""
    if module is not None:
        check_see_module(principal, module)
    check_role(principal, "user", "predict")


# -- jobs ---------------------------------------------------------------------------------------


def check_train(principal: Principal) -> None:
    """Forbidden unless ``principal`` may submit trainings (trainer + train)."""
    check_role(principal, "trainer", "train")


def can_see_job(principal: Principal, job: Job) -> bool:
    """Whether ``job`` is ``principal``'s (or they administer the platform)."""
    return principal.is_admin or (job.owner is not None and job.owner == principal.identity)


def check_see_job(principal: Principal, job: Job) -> None:
    """NotFound (as for a missing job) unless ``principal`` may see ``job``."""
    if not can_see_job(principal, job):
        raise NotFound(f"job '{job.id}' not found")
    if not (principal.has_scope("read") or principal.has_scope("train")):
        raise Forbidden("this API token lacks the 'read' or 'train' scope")


def check_cancel_job(principal: Principal, job: Job) -> None:
    """NotFound unless ``principal`` sees ``job``; Forbidden without the train scope."""
    check_see_job(principal, job)
    if not principal.has_scope("train"):
        raise Forbidden("this API token lacks the 'train' scope")


def check_open_notebook(principal: Principal, notebook_id: str, owner: str | None) -> None:
    """NotFound unless notebook ``notebook_id`` (of ``owner``) is ``principal``'s own (an admin's
    too: a notebook runs code with its owner's data and token); Forbidden without the train
    scope."""
    if owner is None or owner != principal.identity:
        raise NotFound(f"notebook '{notebook_id}' not found")
    if not principal.has_scope("train"):
        raise Forbidden("this API token lacks the 'train' scope")


# -- a user's data ----------------------------------------------------------------------------


def check_read_data(principal: Principal) -> None:
    """Forbidden unless ``principal`` may list and download its data (trainer; read or train)."""
    if not principal.has_role("trainer"):
        raise Forbidden("this needs the 'trainer' role, which your account does not have")
    if not (principal.has_scope("read") or principal.has_scope("train")):
        raise Forbidden("this API token lacks the 'read' or 'train' scope")


def check_write_data(principal: Principal) -> None:
    """Forbidden unless ``principal`` may upload and delete its data (trainer + train)."""
    check_role(principal, "trainer", "train")


def jobs_owner_filter(principal: Principal, owner: str | None) -> tuple[bool, str | None]:
    """For a job listing: (whether anything may match, the owner to filter on)."""
    if principal.is_admin:
        return True, owner
    if owner is not None and owner != principal.identity:
        return False, owner
    return True, principal.identity
