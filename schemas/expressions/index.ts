// The `${{ }}` expression language: CEL inside templates.
export { compileExpression, rewriteHyphenatedNames, scopeVariables, ExpressionSyntaxError, ExpressionBudgetError, type EvaluationBudget, type CompiledExpression, type Scope, type AstNode } from './cel.js';
export { parseTemplate, soleExpression, hasTemplate, TemplateSyntaxError, type TemplatePart, type TemplateExpression } from './template.js';
export { collectReferences, type Reference } from './references.js';
export { renderTemplate, renderValue, evaluateCondition, evaluate, stringify, ExpressionError, type Origin } from './render.js';
