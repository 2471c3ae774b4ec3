"""THE policy: every permission decision in LabelOp is made by the functions exported here.

`can(actor, action, obj)` answers, `require(...)` raises (404 when the caller may not even
see the object, 403 when it may see but not act), `scope(actor, action, queryset)` narrows a
query to the rows the actor may act on. The role x action matrix is data in `matrix.py`.
"""

from labelop.permissions.actions import Action, Role
from labelop.permissions.actor import Actor
from labelop.permissions.policy import (
    can,
    lacks_second_factor,
    remember_role,
    remember_roles,
    require,
    role_column,
    role_in,
    scope,
)

__all__ = ["Action", "Actor", "Role", "can", "lacks_second_factor", "remember_role",
           "remember_roles", "require", "role_column", "role_in", "scope"]
