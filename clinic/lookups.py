"""Django's `in` lookup on integer columns, made safe with numbers no column can hold."""

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import IntegerField
from django.db.models.lookups import In
from django.db.models.sql.compiler import SQLCompiler


@IntegerField.register_lookup
class IntegerFieldIn(In):
    """`pk__in=[99999999999999999999]` matches nothing, as `pk=99999999999999999999` has
    since Django 5.0 (ticket #27397, which left `in` out), instead of raising
    OverflowError on SQLite. Posting such an id to a ModelMultipleChoiceField (the
    admin's group and user forms) was a 500."""

    def process_rhs(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> Any:
        if self.rhs_is_direct_value():
            low, high = connection.ops.integer_field_range(
                self.lhs.output_field.get_internal_type()
            )
            self.rhs = [
                value
                for value in self.rhs
                if not isinstance(value, int)
                or ((low is None or value >= low) and (high is None or value <= high))
            ]
        return super().process_rhs(compiler, connection)
