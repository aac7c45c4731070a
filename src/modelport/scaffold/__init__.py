"""``modelport new``: a module project from the template shipped in this package."""

from modelport.scaffold.render import ProjectOptions, render_project, template_root

__all__ = ["ProjectOptions", "render_project", "template_root"]
