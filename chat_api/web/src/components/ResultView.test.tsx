import { render, screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { ResultView } from "./ResultView";

describe("ResultView", () => {
  it("pretty-prints a JSON text result", () => {
    render(<ResultView text='{"rows":[1,2]}' />);
    const block = screen.getByText(/"rows"/);
    expect(block).toHaveAttribute("data-kind", "json");
    expect(block.textContent).toBe('{\n  "rows": [\n    1,\n    2\n  ]\n}');
  });

  it("keeps plain text as it is", () => {
    render(<ResultView text="name | city" />);
    expect(screen.getByText("name | city")).toHaveAttribute("data-kind", "text");
  });

  it("renders images and text blocks side by side", () => {
    render(
      <ResultView
        content={[
          { type: "text", text: "a picture" },
          { type: "image", data: "iVBORw0KGgo=", mimeType: "image/png" },
        ]}
      />,
    );
    expect(screen.getByText("a picture")).toBeInTheDocument();
    expect(screen.getByRole("img")).toHaveAttribute("src", "data:image/png;base64,iVBORw0KGgo=");
  });

  it("offers structured content beside the text, and alone when there is no text", () => {
    const { rerender } = render(<ResultView content={[{ type: "text", text: "2 rows" }]} structured={{ row_count: 2 }} />);
    expect(screen.getByText("Structured content (JSON)")).toBeInTheDocument();
    rerender(<ResultView content={[]} structured={{ row_count: 2 }} />);
    expect(screen.queryByText("Structured content (JSON)")).not.toBeInTheDocument();
    expect(screen.getByText(/"row_count": 2/)).toBeInTheDocument();
  });

  it("says so when there is nothing to show", () => {
    render(<ResultView content={[]} />);
    expect(screen.getByText("The tool returned no content.")).toBeInTheDocument();
  });
});
