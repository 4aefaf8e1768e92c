package dev.sparktune.ingest;

import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.util.Set;
import javax.swing.text.MutableAttributeSet;
import javax.swing.text.html.HTML;
import javax.swing.text.html.HTMLEditorKit;
import javax.swing.text.html.parser.ParserDelegator;

/**
 * The readable text of an HTML document: tags dropped, entities decoded, {@code script} and {@code style} content
 * skipped, a line break at block elements and {@code <br>}. Uses the JDK's own lenient HTML parser, which copes
 * with the broken markup mail often holds.
 */
final class HtmlText {
    private static final Set<HTML.Tag> BREAKS = Set.of(HTML.Tag.P, HTML.Tag.DIV, HTML.Tag.BR, HTML.Tag.TR, HTML.Tag.LI,
            HTML.Tag.H1, HTML.Tag.H2, HTML.Tag.H3, HTML.Tag.H4, HTML.Tag.H5, HTML.Tag.H6, HTML.Tag.TABLE,
            HTML.Tag.UL, HTML.Tag.OL, HTML.Tag.BLOCKQUOTE, HTML.Tag.PRE, HTML.Tag.HR, HTML.Tag.TITLE);

    private HtmlText() {
    }

    static String of(String html) {
        StringBuilder text = new StringBuilder();
        HTMLEditorKit.ParserCallback callback = new HTMLEditorKit.ParserCallback() {
            private int hidden;

            @Override
            public void handleText(char[] data, int pos) {
                if (hidden == 0) {
                    if (!text.isEmpty() && text.charAt(text.length() - 1) != '\n') {
                        text.append(' ');
                    }
                    text.append(data);
                }
            }

            @Override
            public void handleStartTag(HTML.Tag t, MutableAttributeSet a, int pos) {
                if (t == HTML.Tag.SCRIPT || t == HTML.Tag.STYLE) {
                    hidden++;
                }
                lineBreak(t);
            }

            @Override
            public void handleEndTag(HTML.Tag t, int pos) {
                if ((t == HTML.Tag.SCRIPT || t == HTML.Tag.STYLE) && hidden > 0) {
                    hidden--;
                }
                lineBreak(t);
            }

            @Override
            public void handleSimpleTag(HTML.Tag t, MutableAttributeSet a, int pos) {
                lineBreak(t);
            }

            private void lineBreak(HTML.Tag t) {
                if (BREAKS.contains(t) && !text.isEmpty() && text.charAt(text.length() - 1) != '\n') {
                    text.append('\n');
                }
            }
        };
        try {
            new ParserDelegator().parse(new StringReader(html), callback, true);
        } catch (IOException e) {
            throw new UncheckedIOException("reading HTML from a string", e);
        }
        return text.toString().strip();
    }
}
