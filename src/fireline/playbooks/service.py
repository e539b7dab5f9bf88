"""Playbooks for the API and the CLI: the deployment's library, and incidents' checklists."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fireline.playbooks import engine
from fireline.playbooks.library import Library, library
from fireline.playbooks.model import Playbook

if TYPE_CHECKING:
    from fireline.runtime import Fireline


class PlaybookService:
    """The built-in playbooks and the configured directory's, and the incidents' checklists."""

    def __init__(self, instance: Fireline) -> None:
        self._instance = instance
        # Read per service, not per process: an edited playbook applies at the next request.
        self.library: Library = library(instance.config.playbooks.dir)

    def playbooks(self) -> tuple[Playbook, ...]:
        return self.library.playbooks

    def get(self, playbook_id: str) -> Playbook:
        """The playbook with this id (NotFound if there is none)."""
        return self.library.get(playbook_id)

    def origin(self, playbook_id: str) -> str:
        """ "builtin", or the file the playbook was read from."""
        return self.library.origins[playbook_id]

    def for_incident(self, incident_id: int) -> engine.Attached:
        """The incident's playbook and checklist (NotFound if none is attached)."""
        with self._instance.state.unit_of_work(read_only=True) as tx:
            return engine.attached(tx, incident_id, self.library)

    def attach(
        self, incident_id: int, *, actor: str, playbook_id: str | None = None
    ) -> engine.Attached:
        """Attach the best-matching playbook, or the one named, to an open incident."""
        with self._instance.acting() as tx:
            return engine.attach_by_hand(
                tx,
                incident_id,
                actor=actor,
                now=self._instance.clock.now(),
                playbooks=self.library,
                playbook_id=playbook_id,
                change_window_s=self._instance.config.triage.change_window_s,
            )

    def tick(self, incident_id: int, step: str, *, actor: str) -> engine.Attached:
        """Mark a step done by `actor`, taking turns with detection ticks."""
        with self._instance.acting() as tx:
            return engine.tick(
                tx,
                incident_id,
                step,
                actor=actor,
                now=self._instance.clock.now(),
                playbooks=self.library,
            )


def playbook_service(instance: Fireline) -> PlaybookService:
    return PlaybookService(instance)


__all__ = ["PlaybookService", "playbook_service"]
