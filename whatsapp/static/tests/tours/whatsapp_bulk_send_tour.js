import { registry } from "@web/core/registry";

// A bulk send where 2 of 3 records were not sent: the list and the form say so, list the records not
// sent with their reason, and open each record in one click.

registry.category("web_tour.tours").add("whatsapp_bulk_send_outcome_tour", {
    steps: () => [
        {
            content: "A job done with failures does not look like a full success",
            trigger: ".o_list_view .o_data_row .o_field_badge .text-bg-warning:contains(Done)",
        },
        {
            trigger: ".o_list_view .o_data_row td[name=not_sent_count]:contains(2)",
        },
        {
            content: "Open the job",
            trigger: ".o_list_view .o_data_row td[name=template_id]",
            run: "click",
        },
        {
            content: "The form says what happened",
            trigger:
                ".o_form_view .o_whatsapp_bulk_send_failures:contains(1 sent, 2 not sent, 0 skipped, 0 pending)",
        },
        {
            trigger: ".o_form_view button[name=action_view_not_sent] .o_stat_value:contains(2)",
        },
        {
            content: "The records not sent, with their reason",
            trigger:
                ".o_form_view .o_field_widget[name=not_sent_message_ids] .o_data_row:contains(Tour Blacklisted):contains(opted out)",
        },
        {
            trigger:
                ".o_form_view .o_field_widget[name=not_sent_message_ids] .o_data_row:contains(Tour No Number) td[name=failure_type]:contains(Invalid Number)",
        },
        {
            content: "One click to the record",
            trigger:
                ".o_form_view .o_field_widget[name=not_sent_message_ids] .o_data_row:contains(Tour No Number) button[name=action_open_record]",
            run: "click",
        },
        {
            content: "The contact opens, ready to get a number",
            trigger: ".o_breadcrumb .active:contains(Tour No Number)",
        },
    ],
});
