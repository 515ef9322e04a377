"""--dry-run: the DDL and the plan, from the source alone; nothing is written anywhere."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vendzz_migrate.copy import ddl
from vendzz_migrate.copy import plan as planner
from vendzz_migrate.report.copy import CopyReport, Note, TableReport
from vendzz_migrate.source import introspect as insp
from vendzz_migrate.source import open_readonly, reader
from vendzz_migrate.typemap import infer as inferrer
from vendzz_migrate.typemap import mapping as maps
from vendzz_migrate.urls import mask

if TYPE_CHECKING:
    from vendzz_migrate.copy.run import CopyOptions


def dry_run(opts: CopyOptions) -> CopyReport:
    lite = open_readonly(opts.source)
    lite.text_factory = bytes
    try:
        given = maps.load(opts.mapping_path) if opts.mapping_path else None
        schema = insp.introspect(lite, given.skip_tables if given else insp.DEFAULT_SKIP)
        mapping = given or inferrer.infer(lite, schema, source=str(opts.source))
        plans = planner.build(mapping, schema)
        report = CopyReport(
            run_id=None,
            source=str(opts.source),
            target=mask(opts.target_url),
            schema_name=opts.schema_name,
            dry_run=True,
            data_only=opts.data_only,
        )
        for name, plan in plans.items():
            where, params = reader.range_clause(plan.keys, None, None)
            rows = reader.count(lite, plan, where, params)
            report.tables.append(TableReport(table=name, target=plan.target, source_rows=rows))
            report.ddl.append(ddl.create_table(opts.schema_name, plan, mapping) + ";")
    finally:
        lite.close()
    post = ddl.post_load(opts.schema_name, plans, mapping, schema)
    report.ddl += [s.sql + ";" for s in post.keys + post.indexes]
    report.ddl += [
        alter + ";"
        for _c, _t, _p, alter, _o, _k in ddl.foreign_keys(opts.schema_name, plans, mapping, schema)
    ]
    for view in schema.views:
        sql = ddl.view_sql(opts.schema_name, view.name, view.sql, plans)
        report.ddl.append(sql + ";" if sql else f"-- view {view.name}: not translatable")
    report.notes = [Note(object=o, message=m) for o, m in schema.skip_notes() + post.notes]
    report.add_totals()
    return report
