package dev.sparktune.tokenize;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import java.util.Map;
import jinjava.javax.el.CompositeELResolver;

/**
 * jinjava set up to render Hugging Face chat templates the way {@code transformers} does with Jinja2:
 * {@code trim_blocks} and {@code lstrip_blocks} on, whitespace control on every tag, Python string methods, and
 * {@code raise_exception}.
 *
 * <p>One difference remains: jinjava binds {@code not} tighter than {@code ==}, Jinja2 looser, so
 * {@code not a == b} must be written {@code a != b} or {@code not (a == b)}. ({@code not x is defined} is fine.)
 */
final class JinjaEnvironment {

    private static final Jinjava JINJAVA = create();

    private JinjaEnvironment() {
    }

    /**
     * Renders {@code template}; a template error or a {@code raise_exception} call becomes a
     * {@link ChatTemplateException} whose message starts with {@code templateName}.
     */
    static String render(String templateName, String template, Map<String, Object> variables) {
        RenderResult result = JINJAVA.renderForResult(template, variables);
        for (TemplateError error : result.getErrors()) {
            ChatTemplateException.Raised raised = raised(error.getException());
            if (raised != null) {
                throw new ChatTemplateException("chat template " + templateName + " rejected the conversation: "
                        + raised.getMessage());
            }
        }
        for (TemplateError error : result.getErrors()) {
            if (error.getSeverity() == TemplateError.ErrorType.FATAL) {
                throw new ChatTemplateException("chat template " + templateName + " failed at line "
                        + error.getLineno() + ": " + error.getMessage()
                        + (error.getFieldName() == null ? "" : " (in '" + error.getFieldName() + "')"));
            }
        }
        return result.getOutput();
    }

    private static Jinjava create() {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PythonStringMethods());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_ONLY);
        LegacyOverrides jinja2 = LegacyOverrides.newBuilder()
                // Without these jinjava ignores the "-" in {{- ... -}} and {#- ... -#}, which HF templates use
                // everywhere to keep template newlines out of the prompt.
                .withUseTrimmingForNotesAndExpressions(true)
                .withParseWhitespaceControlStrictly(true)
                // {key: value} evaluates key, as in Python.
                .withEvaluateMapKeys(true)
                .build();
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withLegacyOverrides(jinja2)
                // Otherwise jinjava renders "{{ ... }}" found inside message text as template code.
                .withNestedInterpretationEnabled(false)
                .withElResolver(resolver)
                .build();
        Jinjava jinjava = new Jinjava(config);
        try {
            jinjava.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                    ChatTemplateException.class.getMethod("raise", String.class)));
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(e);
        }
        return jinjava;
    }

    private static ChatTemplateException.Raised raised(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof ChatTemplateException.Raised raised) {
                return raised;
            }
        }
        return null;
    }
}
