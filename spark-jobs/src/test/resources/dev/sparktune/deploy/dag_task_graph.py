"""Prints an Airflow DAG file's task graph as JSON, read from its syntax tree alone (Airflow need not be installed).

    python3 dag_task_graph.py DAG_FILE

Evaluates the module's top level the way Python would, for the few forms a DAG file uses: string, number and
boolean constants, f-strings, lists, tuples, dicts, `+`, `*list` in a list, names bound earlier, calls of functions
the file defines (whose body assigns names and returns an expression), and `with DAG(...) as dag:` blocks. A call of
an imported operator class becomes a task, a call of another imported name {"call", "args", "keywords"}, and
`a >> b >> c` edges. Any other expression (a pendulum date, an attribute) is kept as its source text. Output:
    {"imports": {name: module}, "dag": {keyword: value}, "tasks": [{"operator", "task_id", "arguments"}],
     "edges": [[upstream, downstream]]}
"""

import ast
import json
import sys


class Unevaluated:
    def __init__(self, node):
        self.source = ast.unparse(node)


class Task:
    def __init__(self, operator, arguments):
        self.operator = operator
        self.arguments = arguments
        self.task_id = arguments.get("task_id")


class Graph:
    def __init__(self):
        self.imports = {}
        self.functions = {}
        self.dag = {}
        self.tasks = []
        self.edges = []

    def run(self, statements, scope):
        for statement in statements:
            if isinstance(statement, ast.ImportFrom):
                for alias in statement.names:
                    self.imports[alias.asname or alias.name] = statement.module
            elif isinstance(statement, ast.FunctionDef):
                self.functions[statement.name] = statement
            elif isinstance(statement, ast.Assign):
                value = self.value(statement.value, scope)
                for target in statement.targets:
                    if isinstance(target, ast.Name):
                        scope[target.id] = value
            elif isinstance(statement, ast.With):
                for item in statement.items:
                    call = item.context_expr
                    if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "DAG":
                        self.dag = self.keywords(call, scope)
                self.run(statement.body, scope)
            elif isinstance(statement, ast.Expr) and isinstance(statement.value, ast.BinOp):
                self.chain(statement.value, scope)
            elif isinstance(statement, ast.Return):
                return self.value(statement.value, scope)
        return None

    def chain(self, node, scope):
        """`a >> b >> c`: the edges a->b, b->c; returns the rightmost task."""
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.RShift):
            upstream = self.chain(node.left, scope)
            downstream = self.chain(node.right, scope)
            self.edges.append([upstream.task_id, downstream.task_id])
            return downstream
        return self.value(node, scope)

    def keywords(self, call, scope):
        return {k.arg: self.value(k.value, scope) for k in call.keywords if k.arg is not None}

    def value(self, node, scope):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name) and node.id in scope:
            return scope[node.id]
        if isinstance(node, ast.JoinedStr):
            parts = [self.value(v, scope) for v in node.values]
            if all(isinstance(p, str) for p in parts):
                return "".join(parts)
        if isinstance(node, ast.FormattedValue) and node.conversion == -1 and node.format_spec is None:
            return str(self.value(node.value, scope))
        if isinstance(node, (ast.List, ast.Tuple)):
            items = []
            for element in node.elts:
                if isinstance(element, ast.Starred):
                    items.extend(self.value(element.value, scope))
                else:
                    items.append(self.value(element, scope))
            return items
        if isinstance(node, ast.Dict) and None not in node.keys:
            return {self.value(k, scope): self.value(v, scope) for k, v in zip(node.keys, node.values)}
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.value(node.left, scope), self.value(node.right, scope)
            if type(left) is type(right) and isinstance(left, (str, list)):
                return left + right
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            name = node.func.id
            if name in self.functions:
                return self.call(self.functions[name], node, scope)
            if name in self.imports and name.endswith("Operator"):
                task = Task(name, self.keywords(node, scope))
                self.tasks.append(task)
                return task
            if name in self.imports:
                return {"call": name, "args": [self.value(a, scope) for a in node.args],
                        "keywords": self.keywords(node, scope)}
        return Unevaluated(node)

    def call(self, function, call, scope):
        local = dict(scope)
        parameters = [a.arg for a in function.args.args]
        for parameter, argument in zip(parameters, call.args):
            local[parameter] = self.value(argument, scope)
        for keyword in call.keywords:
            local[keyword.arg] = self.value(keyword.value, scope)
        return self.run(function.body, local)


def as_json(value):
    if isinstance(value, Unevaluated):
        return {"unevaluated": value.source}
    if isinstance(value, Task):
        return {"task": value.task_id}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    return value


def main(path):
    with open(path, encoding="utf-8") as file:
        tree = ast.parse(file.read(), filename=path)
    graph = Graph()
    graph.run(tree.body, {})
    print(json.dumps({
        "imports": graph.imports,
        "dag": as_json(graph.dag),
        "tasks": [{"operator": t.operator, "task_id": t.task_id, "arguments": as_json(t.arguments)}
                  for t in graph.tasks],
        "edges": graph.edges,
    }, indent=2))


if __name__ == "__main__":
    main(sys.argv[1])
