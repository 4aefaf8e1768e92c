package dev.sparktune.clean;

import java.util.Set;
import java.util.regex.Pattern;
import org.jsoup.Jsoup;
import org.jsoup.nodes.Document;
import org.jsoup.nodes.Element;
import org.jsoup.nodes.Node;
import org.jsoup.nodes.TextNode;
import org.jsoup.parser.Parser;
import org.jsoup.select.NodeTraversor;
import org.jsoup.select.NodeVisitor;

/**
 * Turns HTML into the text a reader sees, with jsoup: tags, comments, {@code <script>} and {@code <style>} go,
 * entities are decoded, block elements and {@code <br>} become line breaks.
 *
 * <p>Only text that contains a real HTML tag name ({@code <p>}, {@code </div>}, {@code <br/>}, ...) is parsed as
 * HTML, so code in training data ({@code List<String>}, {@code a < b && c > d}) is left alone; text without tags
 * but with entities ({@code &amp;}, {@code &#39;}) only has its entities decoded. The ingest stage uses
 * {@link #of(String)} for e-mail {@code text/html} parts, which are HTML whatever tags they hold.
 */
public final class HtmlText {
    private static final Pattern TAG = Pattern.compile(
            "<(?:!--|!doctype\\b|/?(?:html|head|body|title|meta|link|style|script|div|span|p|br|hr|a|b|i|u|s|em"
                    + "|strong|small|big|sub|sup|font|center|img|table|thead|tbody|tfoot|tr|td|th|ul|ol|li|dl|dt"
                    + "|dd|h[1-6]|blockquote|pre|code|tt|form|input|button|label|select|option|textarea|iframe"
                    + "|nav|header|footer|section|article|aside|main)\\b[^<>]*>)",
            Pattern.CASE_INSENSITIVE);
    private static final Pattern ENTITY =
            Pattern.compile("&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});");
    private static final Set<String> BLOCKS = Set.of("p", "div", "br", "hr", "li", "ul", "ol", "dl", "dt", "dd",
            "tr", "table", "thead", "tbody", "tfoot", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
            "section", "article", "header", "footer", "nav", "aside", "main", "title", "form");

    private HtmlText() {
    }

    static boolean looksLikeHtml(String s) {
        return TAG.matcher(s).find();
    }

    /** The visible text of {@code s} if it holds HTML tags; {@code s} with entities decoded otherwise. */
    static String strip(String s) {
        if (looksLikeHtml(s)) {
            return visibleText(Jsoup.parse(s));
        }
        return ENTITY.matcher(s).find() ? Parser.unescapeEntities(s, false) : s;
    }

    /** The visible text of a document known to be HTML (an e-mail's {@code text/html} part). */
    public static String of(String html) {
        return visibleText(Jsoup.parse(html));
    }

    private static String visibleText(Document doc) {
        doc.select("script, style, head, noscript, template").remove();
        StringBuilder out = new StringBuilder();
        NodeTraversor.traverse(new NodeVisitor() {
            @Override
            public void head(Node node, int depth) {
                if (node instanceof TextNode text) {
                    out.append(text.getWholeText());
                } else if (node instanceof Element e && BLOCKS.contains(e.normalName())) {
                    out.append('\n');
                }
            }

            @Override
            public void tail(Node node, int depth) {
                if (node instanceof Element e && BLOCKS.contains(e.normalName()) && !e.normalName().equals("br")) {
                    out.append('\n');
                }
            }
        }, doc.body() == null ? doc : doc.body());
        return out.toString();
    }
}
